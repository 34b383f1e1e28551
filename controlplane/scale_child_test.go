package controlplane_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// scaleChild is the simulated-clients process: SCALE_CLIENTS clients of
// SCALE_ADDR, each on its own connection like separate processes; in mode
// "delta" client i holds SCALE_PER topics starting at i×SCALE_PER (and the
// clusters and endpoints they route to), in mode "sotw-full" it holds the
// listener. It prints "ready I" once a client holds everything, then
// "update NAME UNIXNANO BYTES" for each later change, and exits when stdin
// closes.
func scaleChild() int {
	addr, mode := os.Getenv("SCALE_ADDR"), os.Getenv("SCALE_MODE")
	clients, _ := strconv.Atoi(os.Getenv("SCALE_CLIENTS"))
	per, _ := strconv.Atoi(os.Getenv("SCALE_PER"))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return
			}
			defer conn.Close()
			node := &corev3.Node{Id: "scale-" + strconv.Itoa(i)}
			var err2 error
			if mode == "sotw-full" {
				err2 = sotwClient(ctx, conn, node, func() { say("ready %d", i) }, say)
			} else {
				err2 = deltaClient(ctx, conn, node, i*per, per, func() { say("ready %d", i) }, say)
			}
			if err2 != nil && ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "client %d: %v\n", i, err2)
			}
		})
	}
	wg.Wait()
	return 0
}

func deltaClient(ctx context.Context, conn *grpc.ClientConn, node *corev3.Node, first, n int, ready func(), say func(string, ...any)) error {
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return err
	}
	send := func(typ string, names ...string) error {
		return stream.Send(&discoveryv3.DeltaDiscoveryRequest{Node: node, TypeUrl: typ, ResourceNamesSubscribe: names})
	}
	if err := send(resource.ListenerType, "rocketmq"); err != nil {
		return err
	}
	if n == 0 {
		// A client holding no topic still holds the policy's cluster.
		if err := send(resource.ClusterType, "default"); err != nil {
			return err
		}
		if err := send(resource.EndpointType, "default"); err != nil {
			return err
		}
	} else {
		names := make([]string, n)
		for i := range n {
			names[i] = wellknown.TopicRouteName("rocketmq", topicName(first+i))
		}
		if err := send(resource.RouteConfigType, names...); err != nil {
			return err
		}
	}
	routes, clusters, eps, listener := 0, map[string]bool{}, map[string]bool{}, false
	isReady := false
	for {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		at := time.Now().UnixNano()
		size := proto.Size(resp)
		if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}); err != nil {
			return err
		}
		var newClusters []string
		for _, r := range resp.GetResources() {
			switch resp.GetTypeUrl() {
			case resource.ListenerType:
				listener = true
			case resource.RouteConfigType:
				if !isReady {
					routes++
				} else {
					say("update %s %d %d", r.GetName(), at, size)
				}
				rc := &rocketmqv3.RouteConfiguration{}
				if err := r.GetResource().UnmarshalTo(rc); err != nil {
					return err
				}
				for _, rt := range rc.GetRoutes() {
					if c := rt.GetRoute().GetCluster(); !clusters[c] {
						clusters[c] = false
						newClusters = append(newClusters, c)
					}
				}
			case resource.ClusterType:
				clusters[r.GetName()] = true
			case resource.EndpointType:
				eps[r.GetName()] = true
			}
		}
		if len(newClusters) > 0 {
			if err := send(resource.ClusterType, newClusters...); err != nil {
				return err
			}
			if err := send(resource.EndpointType, newClusters...); err != nil {
				return err
			}
		}
		if !isReady && listener && routes >= n && len(eps) > 0 && allTrue(clusters) {
			isReady = true
			ready()
		}
	}
}

func allTrue(m map[string]bool) bool {
	for _, v := range m {
		if !v {
			return false
		}
	}
	return len(m) > 0
}

func sotwClient(ctx context.Context, conn *grpc.ClientConn, node *corev3.Node, ready func(), say func(string, ...any)) error {
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.ListenerType, ResourceNames: []string{"rocketmq"}}); err != nil {
		return err
	}
	isReady := false
	for {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		at := time.Now().UnixNano()
		size := proto.Size(resp)
		if err := stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResourceNames: []string{"rocketmq"},
			VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}); err != nil {
			return err
		}
		if isReady {
			say("update listener %d %d", at, size)
			continue
		}
		isReady = true
		ready()
	}
}
