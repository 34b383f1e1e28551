package main

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
)

// brokerKilledStep is the demo's failover step: broker-a's master is killed a
// third into n sends (its connections reset, nothing in flight answered). The
// relay retries each send the dead broker did not answer on broker-b inside
// the same request, so the application sees no failed send; the consumer
// keeps reading broker-a's messages from its replica. It prints the counts on
// one line, quiet or not, and fails when a send failed or an acknowledged
// message was not consumed.
func brokerKilledStep(ctx context.Context, out io.Writer, say func(string, ...any), cluster *meshtest.Cluster, cp *meshtest.ControlPlane,
	m *mesh.Mesh, p rocketmq.Producer, r *receiver, topic string, n int) error {
	say("\n4. broker-a's master killed mid-traffic (connections reset, nothing answered)")
	if err := apply(ctx, cp, m, demoSpec(cluster, nil, "")); err != nil {
		return err
	}
	master := cluster.Broker("broker-a")
	attempted, acked, failed := 0, 0, 0
	for i := 0; i < n; i++ {
		if i == n/3 {
			master.Kill()
		}
		attempted++
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(fmt.Sprintf("killed-%04d", i))))
		if err != nil || res.Status != primitive.SendOK {
			failed++
			continue
		}
		acked++
	}
	// A SendResult names the broker the client chose; where the relay stored
	// a send it moved shows on the consumer's side.
	say("   acknowledged %d of %d sends", acked, attempted)
	got, err := r.waitFor(ctx, "killed-", acked)
	if err != nil {
		return err
	}
	say("   received %d:   %v (stored there; broker-a's read from its replica)", got.total(), got)
	fmt.Fprintf(out, "failover: broker-a's master killed mid-traffic: sends attempted %d, acknowledged %d, failed %d; consumed %d\n",
		attempted, acked, failed, got.total())
	if failed > 0 {
		return fmt.Errorf("%d of %d sends failed with broker-a's master killed", failed, attempted)
	}
	return master.Restart()
}
