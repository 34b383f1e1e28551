package main

import (
	"math"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is what one run of one workload in one mode measured.
type sample struct {
	msgs    int
	elapsed time.Duration
	// lat holds one latency per operation (a send, a batch, a message from
	// producer to consumer), or nothing when the workload has none.
	lat []time.Duration
	// cpu and brokerCPU are the client's and the cluster process's CPU time
	// over the run; negative when unknown.
	cpu, brokerCPU time.Duration
	// allocs and bytes are the client process's heap allocations over the run.
	allocs, bytes uint64
	// syscalls counts the client process's read and write system calls over
	// the run; negative when unknown (not Linux).
	syscalls int64
}

// allocMetrics are the runtime metrics whose sum is what testing's
// allocs/op counts (tiny objects are counted apart), and the bytes.
var allocMetrics = []string{"/gc/heap/allocs:objects", "/gc/heap/tiny/allocs:objects", "/gc/heap/allocs:bytes"}

// heapAllocs returns the process's cumulative heap allocations. The runtime
// counts small allocations a span at a time, so a run's count is off by the
// spans in use at its ends: nothing next to the tens of thousands of messages
// a run divides by.
func heapAllocs() (objects, bytes uint64) {
	s := make([]metrics.Sample, len(allocMetrics))
	for i, name := range allocMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	for _, m := range s[:2] {
		if m.Value.Kind() == metrics.KindUint64 {
			objects += m.Value.Uint64()
		}
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		bytes = s[2].Value.Uint64()
	}
	return objects, bytes
}

// meter measures one run: the timed section between start and stop, with the
// client's CPU and allocations over it and, when a cluster process is given,
// the cluster process's CPU.
type meter struct {
	broker *clusterProcess

	began           time.Time
	cpu0, broker0   time.Duration
	cpuOK, brokerOK bool
	allocs0, bytes0 uint64
	syscalls0       int64
}

// start opens the timed section. The cluster process is asked for its CPU
// before the clock starts, so the question is not timed.
func (m *meter) start() {
	m.brokerOK = false
	if m.broker != nil {
		cpu, err := m.broker.CPU(false)
		m.broker0, m.brokerOK = cpu, err == nil
	}
	m.allocs0, m.bytes0 = heapAllocs()
	m.syscalls0 = ioSyscalls()
	m.cpu0, m.cpuOK = processCPU()
	m.began = time.Now()
}

// stop closes the timed section and returns its measurements for msgs messages.
func (m *meter) stop(msgs int, lat []time.Duration) sample {
	elapsed := time.Since(m.began)
	cpu, cpuOK := processCPU()
	syscalls := ioSyscalls()
	allocs, bytes := heapAllocs()
	s := sample{msgs: msgs, elapsed: elapsed, lat: lat, cpu: -1, brokerCPU: -1, allocs: allocs - m.allocs0, bytes: bytes - m.bytes0, syscalls: -1}
	if syscalls >= 0 && m.syscalls0 >= 0 {
		s.syscalls = syscalls - m.syscalls0
	}
	if cpuOK && m.cpuOK {
		s.cpu = cpu - m.cpu0
	}
	if m.brokerOK {
		if b, err := m.broker.CPU(false); err == nil {
			s.brokerCPU = b - m.broker0
		}
	}
	return s
}

// percentile returns the q-quantile (0 < q <= 1) of sorted by the nearest-rank
// method: the smallest value at or above which a fraction q of the values lie.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// spread is a figure over the rounds of a run: the median and the extremes.
type spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// spreadOf summarises xs; NaNs (a figure a round could not measure) are left
// out, and an empty or all-NaN xs gives nil.
func spreadOf(xs []float64) *spread {
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &spread{Median: med, Min: s[0], Max: s[len(s)-1]}
}

// ioSyscalls returns how many read and write system calls the process has
// made (syscr and syscw of /proc/self/io), or -1 where that file does not
// exist. Every hop a request takes costs some: the figure shows what the
// relay's loopback hop adds.
func ioSyscalls() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	var n int64
	found := 0
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "syscr" && k != "syscw") {
			continue
		}
		c, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return -1
		}
		n += c
		found++
	}
	if found != 2 {
		return -1
	}
	return n
}
