package routing

import (
	"fmt"
	"hash/fnv"
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
)

// benchSnapshot builds n routes for topics topic-0 … topic-(n-1): each topic
// has a send route to the canary subset (code header) and a catch-all route,
// using exact or prefix topic matchers, over 16 brokers.
func benchSnapshot(b *testing.B, n int, kind string) *Snapshot {
	b.Helper()
	var eps []ep
	for i := 0; i < 16; i++ {
		v := "stable"
		if i%4 == 0 {
			v = "canary"
		}
		eps = append(eps, ep{addr: fmt.Sprintf("10.0.0.%d", i), broker: fmt.Sprintf("broker-%02d", i), weight: uint32(1 + i), lb: map[string]any{"version": v}})
	}
	in := oneCluster(b, loc{eps: eps})
	cfg := rc("rc")
	for i := 0; len(cfg.Routes) < n; i++ {
		topic := fmt.Sprintf("topic-%d", i)
		m := exact(topic)
		if kind == "prefix" {
			m = prefix(topic + "/")
		}
		cfg.Routes = append(cfg.Routes,
			rt(b, m, "brokers", map[string]any{"version": "canary"}, codeIn("10|310|320")),
			rt(b, m, "brokers", nil))
	}
	in.RouteConfig = cfg
	return mustSnapshot(b, in)
}

func benchTopic(n int, kind string) string {
	t := fmt.Sprintf("topic-%d", n/2-1) // the last pair of routes
	if kind == "prefix" {
		t += "/"
	}
	return t
}

func BenchmarkSnapshot_Match(b *testing.B) {
	headers := map[string]string{"TAGS": "blue"}
	for _, kind := range []string{"exact", "prefix"} {
		for _, n := range []int{10, 1000} {
			for _, code := range []int32{10, 11} {
				b.Run(fmt.Sprintf("%s/routes=%d/code=%d", kind, n, code), func(b *testing.B) {
					s := benchSnapshot(b, n, kind)
					topic := benchTopic(n, kind)
					if _, err := s.Match(topic, code, headers); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if _, err := s.Match(topic, code, headers); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

func BenchmarkSnapshot_PickWriteBroker(b *testing.B) {
	for _, kind := range []string{"exact", "prefix"} {
		for _, n := range []int{10, 1000} {
			b.Run(fmt.Sprintf("%s/routes=%d", kind, n), func(b *testing.B) {
				s := benchSnapshot(b, n, kind)
				topic := benchTopic(n, kind)
				if _, err := s.PickWriteBroker(topic, 1); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				var r uint64
				for b.Loop() {
					r++
					if _, err := s.PickWriteBroker(topic, r*0x9e3779b97f4a7c15); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRoute_PickWriteBroker compares, in one run, the pick shapes the
// relay meets on every send: one priority of equally weighted brokers, two
// weighted localities with a degraded broker and a second priority (three
// tiers), and a sharding key's rendezvous pick over the same brokers.
func BenchmarkRoute_PickWriteBroker(b *testing.B) {
	shapes := map[string][]loc{
		"plain": {{eps: equalBrokers(names16()...)}},
		"tiers": {
			{region: "r1", zone: "z1", weight: 3, eps: append(brokers("a", 7, healthy), ep{addr: "10.0.9.1", broker: "a-degraded", health: degraded})},
			{region: "r1", zone: "z2", weight: 1, eps: brokers("bb", 4, healthy)},
			{region: "r1", zone: "z3", priority: 1, eps: brokers("ccc", 4, healthy)},
		},
	}
	for _, shape := range []string{"plain", "tiers"} {
		r, err := mustSnapshot(b, oneCluster(b, shapes[shape]...)).Match("orders", 10, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(shape+"/random", func(b *testing.B) {
			b.ReportAllocs()
			var x uint64
			for b.Loop() {
				x++
				if _, err := r.PickWriteBroker(x * 0x9e3779b97f4a7c15); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(shape+"/keyed", func(b *testing.B) {
			b.ReportAllocs()
			var x uint64
			for b.Loop() {
				x++
				if _, err := r.PickWriteBrokerByKey(x*0x9e3779b97f4a7c15, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func names16() []string {
	out := make([]string, 16)
	for i := range out {
		out[i] = fmt.Sprintf("broker-%02d", i)
	}
	return out
}

// BenchmarkKeyHash compares KeyHash with the hash/fnv the queue selector
// used before it.
func BenchmarkKeyHash(b *testing.B) {
	const key = "order-1234567890"
	b.Run("KeyHash", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = KeyHash(key)
		}
	})
	b.Run("fnv.New64a", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := fnv.New64a()
			_, _ = h.Write([]byte(key))
			_ = h.Sum64()
		}
	})
}

func BenchmarkTable_LoadParallel(b *testing.B) {
	var t Table
	t.Store(benchSnapshot(b, 1000, "exact"))
	topic := benchTopic(1000, "exact")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var r uint64
		for pb.Next() {
			r++
			if _, err := t.Load().PickWriteBroker(topic, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSnapshot_TopicRoute measures route synthesis for one topic: the
// TopicRouteData a client's route query (code 105) is answered with, built
// from a snapshot of 1000 routes over 16 brokers. A client asks once per topic
// every 30 s, so this is not per message. Goal: at most 50 µs, so that a client
// of a thousand topics costs the mesh under 0.2% of a core.
//
//	go test -run '^$' -bench Snapshot_TopicRoute -benchmem ./routing/
func BenchmarkSnapshot_TopicRoute(b *testing.B) {
	s := benchSnapshot(b, 1000, "exact")
	topic := benchTopic(1000, "exact")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.TopicRoute(topic, RouteDataOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewSnapshot(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			in := oneCluster(b, loc{eps: []ep{{addr: "10.0.0.1", broker: "a"}}})
			cfg := &rocketmqv3.RouteConfiguration{Name: "rc"}
			for i := 0; i < n; i++ {
				cfg.Routes = append(cfg.Routes, rt(b, exact(fmt.Sprintf("topic-%d", i)), "brokers", nil, codeIn("10|310|320")))
			}
			in.RouteConfig = cfg
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewSnapshot(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
