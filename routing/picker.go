package routing

import (
	"math"
	"sort"
)

// The write picker chooses the broker a message is written to, following
// Envoy's load balancer where it has a rule (see the package doc):
//
//	priority load   each priority's health is min(100, overprovisioning ×
//	                healthy/hosts), its degraded availability the same with
//	                degraded hosts; the healthy load is handed out from P0
//	                down, what remains goes to degraded hosts the same way,
//	                scaled up when the total is below 100
//	tier            one (priority, healthy|degraded) with its share of writes
//	locality        with locality weights: a locality's share is its weight
//	                × min(100, overprovisioning × available/hosts), endpoint
//	                weights split it; without: the node's zone when it has a
//	                candidate, else every candidate by endpoint weight
//
// A pick takes one caller-supplied 64-bit number and derives the draws of
// each stage from it, so equal numbers give equal picks on equal snapshots.
// Everything is computed when the snapshot is built; picking is a few
// comparisons and does not allocate.

// hostState classifies a write candidate by health.
type hostState uint8

const (
	stateHealthy hostState = iota
	stateDegraded
	stateUnavailable
)

// candidate is one broker that may take writes by configuration: its
// preferred master.
type candidate struct {
	name     string
	weight   uint64
	priority uint32
	locality int    // index of the master's LocalityLbEndpoints
	locW     uint32 // that locality's weight, 0 if unset
	loc      Locality
	state    hostState
}

// wgroup is a weighted choice among brokers.
type wgroup struct {
	names []string
	seeds []uint64 // keyHash of each name, for keyed picks
	cum   []uint64 // cum[i] = sum of weights[0..i]
	total uint64
}

func newGroup(cands []*candidate) wgroup {
	g := wgroup{names: make([]string, len(cands)), seeds: make([]uint64, len(cands)), cum: make([]uint64, len(cands))}
	for i, c := range cands {
		g.total += c.weight
		g.names[i], g.seeds[i], g.cum[i] = c.name, KeyHash(c.name), g.total
	}
	return g
}

// pick returns the name whose cumulative weight range holds x mod total.
func (g *wgroup) pick(x uint64) string {
	x %= g.total
	lo, hi := 0, len(g.cum)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if g.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return g.names[lo]
}

// share returns the probability of each member of g.
func (g *wgroup) share(i int) float64 {
	w := g.cum[i]
	if i > 0 {
		w -= g.cum[i-1]
	}
	return float64(w) / float64(g.total)
}

// tier is the brokers of one (priority, healthy or degraded) with its share
// of writes.
type tier struct {
	load     uint32 // percent of writes
	priority uint32
	degraded bool
	// Exactly one of these shapes is in use:
	//   zonePct > 0: local with probability zonePct %, else groups[0];
	//   len(groups) > 1: a group by locCum (locality weights), then a member;
	//   else groups[0].
	zonePct uint64
	local   wgroup
	groups  []wgroup
	locCum  []float64 // cumulative effective locality weights
	// keyed lists every member with its exact share of the tier, for
	// rendezvous hashing.
	keyed []keyedCand
}

type keyedCand struct {
	name  string
	seed  uint64
	share float64
}

// picker is the compiled write picker of one endpoint set.
type picker struct {
	tiers []tier
	cum   []uint32 // cumulative tier loads, the last is 100
}

func (p *picker) ok() bool { return len(p.tiers) > 0 }

// Salts that derive independent draws from one number.
const (
	saltTier     = 0x243f6a8885a308d3
	saltLocality = 0x13198a2e03707344
	saltMember   = 0xa4093822299f31d0
	saltKey      = 0x082efa98ec4e6c89
)

// mix is splitmix64's finalizer over x and a salt: a bijection whose every
// output bit depends on every input bit.
func mix(x, salt uint64) uint64 {
	x ^= salt
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// KeyHash is the 64-bit hash of a sharding key (or broker name) that
// [Route.PickWriteBrokerByKey] expects: FNV-1a over the bytes, then
// splitmix64's finalizer. It is stable across processes and versions, so
// every producer sends a key to the same broker, and it is independent of
// the 32-bit FNV-1a the official client's hash queue selector uses to pick
// the queue, so keys spread over every queue of every broker. It does not
// allocate.
func KeyHash(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return mix(h, saltKey)
}

// tierIndex maps a draw to a tier by its load, as Envoy's choosePriority
// maps hash % 100 + 1 onto the cumulative priority loads.
func (p *picker) tierIndex(x uint64) int {
	pct := uint32(x%100) + 1
	for i, c := range p.cum {
		if pct <= c {
			return i
		}
	}
	return len(p.cum) - 1
}

// pick returns the broker for draw r.
func (p *picker) pick(r uint64) string {
	t := &p.tiers[0]
	if len(p.tiers) > 1 {
		t = &p.tiers[p.tierIndex(mix(r, saltTier))]
	}
	x := mix(r, saltLocality)
	g := &t.groups[0]
	switch {
	case t.zonePct > 0:
		if x%100 < t.zonePct {
			g = &t.local
		}
	case len(t.groups) > 1:
		total := t.locCum[len(t.locCum)-1]
		u := float64(x>>11) * 0x1p-53 * total
		i := sort.SearchFloat64s(t.locCum, u)
		if i < len(t.locCum) && t.locCum[i] == u {
			i++ // cumulative ranges are half-open
		}
		g = &t.groups[min(i, len(t.groups)-1)]
	}
	return g.pick(mix(r, saltMember))
}

// pickKey returns the broker for a sharding key's hash k by weighted
// rendezvous hashing within the key's tier: every member scores
// share / -ln(u), u uniform from (k, member), and the highest wins. A key
// keeps its broker while the tier's members and shares are unchanged, and
// when a broker joins or leaves only the keys it gains or loses move. avoid,
// if not "", is skipped when another broker can take the key.
func (p *picker) pickKey(k uint64, avoid string) string {
	t := &p.tiers[0]
	if len(p.tiers) > 1 {
		t = &p.tiers[p.tierIndex(mix(k, saltTier))]
	}
	if best := rendezvous(t.keyed, k, avoid); best != "" {
		return best
	}
	// Only avoid is in the key's tier: the best of every other tier.
	for i := range p.tiers {
		if best := rendezvous(p.tiers[i].keyed, k, avoid); best != "" {
			return best
		}
	}
	return avoid
}

func rendezvous(cands []keyedCand, k uint64, avoid string) string {
	best, bestScore := "", -1.0
	for i := range cands {
		c := &cands[i]
		if c.name == avoid || c.share <= 0 {
			continue
		}
		u := (float64(mix(k, c.seed)>>11) + 0.5) * 0x1p-53 // in (0, 1)
		if score := c.share / -math.Log(u); score > bestScore {
			best, bestScore = c.name, score
		}
	}
	return best
}

// shares returns each broker's probability of a pick.
func (p *picker) shares() map[string]float64 {
	out := map[string]float64{}
	for i := range p.tiers {
		t := &p.tiers[i]
		for _, c := range t.keyed {
			out[c.name] += float64(t.load) / 100 * c.share
		}
	}
	return out
}

// newPicker compiles the write picker of a set of candidates.
// clusterHosts counts the write-eligible masters of each locality in the
// whole cluster, for scale_locality_weight.
func newPicker(cands []candidate, lb *lbConfig, local Locality, hasLocal bool, clusterHosts map[int]int) picker {
	if len(cands) == 0 {
		return picker{}
	}
	prios := make([]uint32, 0, 4)
	byPrio := map[uint32][]*candidate{}
	for i := range cands {
		c := &cands[i]
		if _, seen := byPrio[c.priority]; !seen {
			prios = append(prios, c.priority)
		}
		byPrio[c.priority] = append(byPrio[c.priority], c)
	}
	sort.Slice(prios, func(i, j int) bool { return prios[i] < prios[j] })

	health := make([]uint64, len(prios))
	degr := make([]uint64, len(prios))
	for i, pr := range prios {
		var hosts, healthy, degraded uint64
		for _, c := range byPrio[pr] {
			n := uint64(1)
			if lb.weightedPriorityHealth {
				n = c.weight
			}
			hosts += n
			switch c.state {
			case stateHealthy:
				healthy += n
			case stateDegraded:
				degraded += n
			}
		}
		health[i] = min(100, lb.overprovisioning*healthy/hosts)
		degr[i] = min(100, lb.overprovisioning*degraded/hosts)
	}
	var sum uint64
	for i := range prios {
		sum += health[i] + degr[i]
	}
	total := min(100, sum)
	if total == 0 {
		// Nothing can take writes; rmqmesh has no panic mode (as Envoy
		// with healthy_panic_threshold 0).
		return picker{}
	}
	hLoad, left, firstH := distributeLoad(health, 100, total)
	dLoad, left, firstD := distributeLoad(degr, left, total)
	if left > 0 { // rounding: to the first healthy priority, else degraded
		if firstH >= 0 {
			hLoad[firstH] += left
		} else {
			dLoad[firstD] += left
		}
	}
	var p picker
	var acc uint32
	add := func(i int, load uint64, state hostState) {
		if load == 0 {
			return
		}
		t, ok := newTier(byPrio[prios[i]], state, lb, local, hasLocal, clusterHosts)
		if !ok {
			return
		}
		t.load, t.priority, t.degraded = uint32(load), prios[i], state == stateDegraded
		acc += t.load
		p.tiers = append(p.tiers, t)
		p.cum = append(p.cum, acc)
	}
	for i := range prios {
		add(i, hLoad[i], stateHealthy)
	}
	for i := range prios {
		add(i, dLoad[i], stateDegraded)
	}
	if len(p.cum) > 0 {
		p.cum[len(p.cum)-1] = 100 // the loads sum to 100; keep the map total
	}
	return p
}

// distributeLoad hands out load to priorities in order, each taking at most
// its availability scaled by 100/total, as Envoy does. It returns the loads,
// what is left and the first priority with any availability (-1 if none).
func distributeLoad(avail []uint64, load, total uint64) ([]uint64, uint64, int) {
	out := make([]uint64, len(avail))
	first := -1
	for i, a := range avail {
		if first < 0 && a > 0 {
			first = i
		}
		out[i] = min(load, a*100/total)
		load -= out[i]
	}
	return out, load, first
}

// newTier builds the tier of one priority's candidates in state.
func newTier(prio []*candidate, state hostState, lb *lbConfig, local Locality, hasLocal bool, clusterHosts map[int]int) (tier, bool) {
	var avail []*candidate
	for _, c := range prio {
		if c.state == state {
			avail = append(avail, c)
		}
	}
	if len(avail) == 0 {
		return tier{}, false
	}
	var t tier
	if lb.useLocalityWeights() && (lb.localityWeighted || anyLocalityWeight(prio)) && t.byLocality(prio, avail, state, lb, clusterHosts) {
		return t, true
	}
	all := newGroup(avail)
	t.groups = []wgroup{all}
	if hasLocal && lb.zonePercent > 0 && !lb.localityWeighted && !anyLocalityWeight(prio) && uint64(len(avail)) >= lb.zoneMinSize {
		var near []*candidate
		for _, c := range avail {
			if c.loc.Region == local.Region && c.loc.Zone == local.Zone {
				near = append(near, c)
			}
		}
		if len(near) > 0 {
			t.zonePct, t.local = lb.zonePercent, newGroup(near)
		}
	}
	for i, name := range all.names {
		share := all.share(i)
		if t.zonePct > 0 {
			share *= float64(100-t.zonePct) / 100
			for j, n := range t.local.names {
				if n == name {
					share += float64(t.zonePct) / 100 * t.local.share(j)
				}
			}
		}
		t.keyed = append(t.keyed, keyedCand{name: name, seed: all.seeds[i], share: share})
	}
	return t, true
}

func anyLocalityWeight(prio []*candidate) bool {
	for _, c := range prio {
		if c.locW > 0 {
			return true
		}
	}
	return false
}

// byLocality fills t with one group per locality that has a positive
// effective weight: weight × min(100, overprovisioning × available/hosts),
// scaled by the share of the locality's hosts in the subset when
// scale_locality_weight is set. It reports false when no locality has one,
// and the caller then balances over every candidate (Envoy does the same
// when it cannot choose a locality).
func (t *tier) byLocality(prio, avail []*candidate, state hostState, lb *lbConfig, clusterHosts map[int]int) bool {
	type locStat struct {
		weight       uint32
		hosts, avail int
		members      []*candidate
	}
	var order []int
	stats := map[int]*locStat{}
	for _, c := range prio {
		s, ok := stats[c.locality]
		if !ok {
			s = &locStat{weight: c.locW}
			stats[c.locality] = s
			order = append(order, c.locality)
		}
		s.hosts++
	}
	for _, c := range avail {
		s := stats[c.locality]
		s.avail++
		s.members = append(s.members, c)
	}
	var sum float64
	for _, li := range order {
		s := stats[li]
		if s.weight == 0 || s.avail == 0 {
			continue
		}
		eff := float64(uint64(s.weight) * min(100, lb.overprovisioning*uint64(s.avail)/uint64(s.hosts)))
		if lb.subset != nil && lb.subset.scaleLocalityWeight && clusterHosts[li] > 0 {
			eff *= float64(s.hosts) / float64(clusterHosts[li])
		}
		if eff <= 0 {
			continue
		}
		g := newGroup(s.members)
		sum += eff
		t.groups = append(t.groups, g)
		t.locCum = append(t.locCum, sum)
	}
	if len(t.groups) == 0 {
		return false
	}
	prev := 0.0
	for gi := range t.groups {
		g := &t.groups[gi]
		locShare := (t.locCum[gi] - prev) / sum
		prev = t.locCum[gi]
		for i, name := range g.names {
			t.keyed = append(t.keyed, keyedCand{name: name, seed: g.seeds[i], share: locShare * g.share(i)})
		}
	}
	if len(t.groups) == 1 {
		t.locCum = nil
	}
	return true
}
