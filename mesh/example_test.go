package mesh_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
)

// exampleSetup starts an in-memory RocketMQ cluster with brokers broker-a and
// broker-b, and a control plane whose listener "rmq-prod" routes topic orders to
// broker-a only. In production both exist already; only the bootstrap changes.
func exampleSetup(ctx context.Context) (cp *meshtest.ControlPlane, cleanup func(), err error) {
	cluster, err := meshtest.NewCluster(
		meshtest.WithBroker("broker-a", 0),
		meshtest.WithBroker("broker-b", 0),
		meshtest.WithTopic("orders", 4),
	)
	if err != nil {
		return nil, nil, err
	}
	cp, err = meshtest.NewControlPlane()
	if err != nil {
		cluster.Close()
		return nil, nil, err
	}
	cleanup = func() { cp.Close(); cluster.Close() }
	var brokerA []meshtest.EndpointSpec
	for _, e := range cluster.BrokerEndpoints(4) {
		if e.BrokerName == "broker-a" {
			brokerA = append(brokerA, e)
		}
	}
	res, err := meshtest.MeshSpec{
		Listener: "rmq-prod",
		Routes:   []meshtest.RouteSpec{{Topic: "orders", Cluster: "orders-brokers"}},
		Clusters: []meshtest.ClusterSpec{{Name: "orders-brokers", DataPath: "direct", Endpoints: brokerA}},
	}.Resources()
	if err == nil {
		err = cp.Update(ctx, res)
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return cp, cleanup, nil
}

// An application builds its clients through the mesh instead of
// rocketmq.NewProducer and rocketmq.NewPushConsumer, and the control plane
// decides where its messages go. The README's quick start is this example.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, cleanup, err := exampleSetup(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()

	// In production: mesh.New(ctx, "xds:///rmq-prod") with ROCKETMQ_XDS_BOOTSTRAP
	// naming the bootstrap file.
	m, err := mesh.New(ctx, "xds:///rmq-prod", mesh.WithBootstrap(cp.Bootstrap()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		if err := m.Close(); err != nil {
			fmt.Println(err)
		}
	}()
	// Wait for the control plane's configuration, or learn why it did not come.
	if err := m.WaitReady(ctx); err != nil {
		fmt.Println(err)
		return
	}

	p, err := m.NewProducer(producer.WithGroupName("orders-producer")) // was: rocketmq.NewProducer(...)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		if err := p.Shutdown(); err != nil {
			fmt.Println(err)
		}
	}()

	res, err := p.SendSync(ctx, primitive.NewMessage("orders", []byte("order #1")))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status == primitive.SendOK, "sent to", res.MessageQueue.BrokerName)
	// Output: true sent to broker-a
}

// TopicRoute shows the route the mesh gives the official client for a topic: the
// brokers xDS allows, with their permissions (6 is read and write).
func ExampleMesh_TopicRoute() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, cleanup, err := exampleSetup(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cleanup()

	m, err := mesh.New(ctx, "xds:///rmq-prod", mesh.WithBootstrap(cp.Bootstrap()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	if err := m.WaitReady(ctx); err != nil {
		fmt.Println(err)
		return
	}

	route, err := m.TopicRoute(ctx, "orders")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range route.QueueDatas {
		fmt.Printf("%s: %d write queues, perm %d\n", q.BrokerName, q.WriteQueueNums, q.Perm)
	}
	if _, err := m.TopicRoute(ctx, "audit"); err != nil {
		fmt.Println("audit:", err)
	}
	// Output:
	// broker-a: 4 write queues, perm 6
	// audit: routing: topic "audit": no route for sends or pulls in listener "rmq-prod"
}
