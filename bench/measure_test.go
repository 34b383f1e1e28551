package main

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile_NearestRank(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 1000; i++ {
		lat = append(lat, time.Duration(i)*time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.999, 999 * time.Microsecond}, {1, 1000 * time.Microsecond}, {0.0001, time.Microsecond}} {
		if got := percentile(lat, tc.q); got != tc.want {
			t.Errorf("percentile(1..1000 µs, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile([]time.Duration{7}, 0.999); got != 7 {
		t.Errorf("percentile of one value = %v, want it", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %v, want 0", got)
	}
}

func TestSpreadOf(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		in   []float64
		want *spread
	}{
		{"odd", []float64{3, 1, 2}, &spread{Median: 2, Min: 1, Max: 3}},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, &spread{Median: 2.5, Min: 1, Max: 4}},
		{"NaNs left out", []float64{nan, 5, nan, 1, 3}, &spread{Median: 3, Min: 1, Max: 5}},
		{"all NaN", []float64{nan, nan}, nil},
		{"empty", nil, nil},
	} {
		if diff := cmp.Diff(spreadOf(tc.in), tc.want); diff != "" {
			t.Errorf("%s: spreadOf(%v) (-got +want):\n%s", tc.name, tc.in, diff)
		}
	}
}

func TestMeter_CountsTheClientsAllocations(t *testing.T) {
	var mt meter
	mt.start()
	keep := make([][]byte, 0, 1000)
	for range 1000 {
		keep = append(keep, make([]byte, 1024))
	}
	s := mt.stop(1000, nil)
	// The runtime counts small allocations a span at a time: allow for the
	// spans in use.
	if s.allocs < 900 || s.bytes < 900*1024 {
		t.Errorf("1000 allocations of 1 KiB measured as %d allocations, %d bytes", s.allocs, s.bytes)
	}
	if s.brokerCPU != -1 {
		t.Errorf("broker CPU without a cluster process = %v, want -1 (unknown)", s.brokerCPU)
	}
	if _, ok := processCPU(); ok && s.cpu < 0 {
		t.Errorf("client CPU = %v although the process's CPU time is known", s.cpu)
	}
	if ioSyscalls() >= 0 && s.syscalls < 0 {
		t.Errorf("system calls = %d although /proc/self/io counts them", s.syscalls)
	}
	if s.msgs != 1000 || s.elapsed <= 0 {
		t.Errorf("sample counts %d messages over %v", s.msgs, s.elapsed)
	}
	_ = keep
}
