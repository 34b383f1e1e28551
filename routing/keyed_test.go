package routing

import (
	"fmt"
	"hash/fnv"
	"math"
	"testing"
)

// fnv32a is the queue hash of the official client's hash queue selector.
func fnv32a(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

func equalBrokers(names ...string) []ep {
	out := make([]ep, len(names))
	for i, n := range names {
		out[i] = ep{addr: fmt.Sprintf("10.0.1.%d", i+1), broker: n}
	}
	return out
}

// Issue 10 item 3: the broker a sharding key goes to and the queue the
// client's hash selector then picks must be independent, or each broker
// only ever sees some of its queues.
func TestSnapshot_KeyedPickIndependentOfQueueHash(t *testing.T) {
	for _, nb := range []int{2, 8} {
		t.Run(fmt.Sprintf("%d brokers", nb), func(t *testing.T) {
			var names []string
			for i := 0; i < nb; i++ {
				names = append(names, fmt.Sprintf("broker-%d", i))
			}
			s := mustSnapshot(t, oneCluster(t, loc{eps: equalBrokers(names...)}))
			const queues, keys = 8, 64000
			cells := map[string]int{}
			for i := 0; i < keys; i++ {
				k := fmt.Sprintf("order-%d", i)
				b, err := s.PickWriteBrokerByKey("orders", KeyHash(k), "")
				if err != nil {
					t.Fatal(err)
				}
				cells[fmt.Sprintf("%s/%d", b, fnv32a(k)%queues)]++
			}
			// Every (broker, queue) gets its share within five standard
			// deviations: the two hashes are independent.
			p := 1 / float64(nb*queues)
			mean, sd := keys*p, math.Sqrt(keys*p*(1-p))
			for _, b := range names {
				for q := 0; q < queues; q++ {
					if n := float64(cells[fmt.Sprintf("%s/%d", b, q)]); math.Abs(n-mean) > 5*sd {
						t.Errorf("%s queue %d got %v keys, want %.0f ± %.0f", b, q, n, mean, 5*sd)
					}
				}
			}
		})
	}
}

// Keyed picks follow the same shares as random ones.
func TestSnapshot_KeyedPickFollowsShares(t *testing.T) {
	in := oneCluster(t,
		loc{region: "r1", zone: "z1", weight: 3, eps: []ep{{addr: "10.0.0.1", broker: "a1", weight: 1}, {addr: "10.0.0.2", broker: "a2", weight: 2}}},
		loc{region: "r1", zone: "z2", weight: 1, eps: []ep{{addr: "10.0.0.3", broker: "b"}}},
	)
	s := mustSnapshot(t, in)
	r, err := s.Match("orders", 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := r.WriteShares()
	const keys = 100000
	got := map[string]float64{}
	for i := 0; i < keys; i++ {
		b, err := r.PickWriteBrokerByKey(KeyHash(fmt.Sprint("key-", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		got[b] += 1.0 / keys
	}
	for b, p := range want {
		if tol := 5 * math.Sqrt(p*(1-p)/keys); math.Abs(got[b]-p) > tol {
			t.Errorf("broker %s took %.4f of keys, want %.4f ± %.4f", b, got[b], p, tol)
		}
	}
}

// Consistent hashing: when a broker joins, only keys that move to it move;
// when one leaves, only its keys move.
func TestSnapshot_KeyedPickMovesKeysMinimally(t *testing.T) {
	pickAll := func(names ...string) []string {
		s := mustSnapshot(t, oneCluster(t, loc{eps: equalBrokers(names...)}))
		out := make([]string, 20000)
		for i := range out {
			b, err := s.PickWriteBrokerByKey("orders", KeyHash(fmt.Sprint("key-", i)), "")
			if err != nil {
				t.Fatal(err)
			}
			out[i] = b
		}
		return out
	}
	three := pickAll("a", "b", "c")
	four := pickAll("a", "b", "c", "d")
	two := pickAll("a", "c")
	moved := 0
	for i := range three {
		if four[i] != three[i] {
			moved++
			if four[i] != "d" {
				t.Fatalf("key %d moved from %s to %s when d joined", i, three[i], four[i])
			}
		}
		if three[i] != "b" && two[i] != three[i] {
			t.Fatalf("key %d moved from %s to %s when b left", i, three[i], two[i])
		}
	}
	// d takes about a quarter of the keys.
	if f := float64(moved) / float64(len(three)); f < 0.22 || f > 0.28 {
		t.Errorf("%.3f of keys moved when a fourth broker joined, want about 0.25", f)
	}
}

func TestSnapshot_KeyedPickAvoidsTheFailedBroker(t *testing.T) {
	s := mustSnapshot(t, oneCluster(t, loc{eps: equalBrokers("a", "b", "c")}))
	for i := 0; i < 1000; i++ {
		k := KeyHash(fmt.Sprint("key-", i))
		first, _ := s.PickWriteBrokerByKey("orders", k, "")
		again, err := s.PickWriteBrokerByKey("orders", k, first)
		if err != nil || again == first {
			t.Fatalf("avoiding %s, key %d got %s, %v", first, i, again, err)
		}
		if third, _ := s.PickWriteBrokerByKey("orders", k, first); third != again {
			t.Fatalf("retry of key %d is not deterministic: %s then %s", i, again, third)
		}
	}
	// The only writable broker is picked even when it is to be avoided.
	solo := mustSnapshot(t, oneCluster(t, loc{eps: equalBrokers("a")}))
	if b, err := solo.PickWriteBrokerByKey("orders", 7, "a"); err != nil || b != "a" {
		t.Errorf("single broker avoided: %q, %v", b, err)
	}
}

// The relay picks on every send: picking must not allocate.
func TestRoute_PicksDoNotAllocate(t *testing.T) {
	in := oneCluster(t,
		loc{region: "r1", zone: "z1", weight: 3, priority: 0, eps: []ep{{addr: "10.0.0.1", broker: "a"}, {addr: "10.0.0.2", broker: "b", health: degraded}}},
		loc{region: "r1", zone: "z2", weight: 1, priority: 0, eps: []ep{{addr: "10.0.0.3", broker: "c"}}},
		loc{region: "r1", zone: "z3", priority: 1, eps: []ep{{addr: "10.0.0.4", broker: "d"}}},
	)
	r, err := mustSnapshot(t, in).Match("orders", 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	var x uint64
	if n := testing.AllocsPerRun(1000, func() {
		x++
		if _, err := r.PickWriteBroker(splitmix64(x)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.PickWriteBrokerByKey(KeyHash("order-42"), "a"); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("a pick allocates %v times", n)
	}
}
