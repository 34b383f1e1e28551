package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSample is a run of msgs messages at rate messages/s whose latencies
// are all lat, with cpu per message.
func fakeSample(msgs int, rate float64, lat, cpu time.Duration) sample {
	s := sample{
		msgs:    msgs,
		elapsed: time.Duration(float64(msgs) / rate * float64(time.Second)),
		cpu:     cpu * time.Duration(msgs), brokerCPU: -1,
		allocs: uint64(10 * msgs), bytes: uint64(1000 * msgs),
	}
	for range msgs {
		s.lat = append(s.lat, lat)
	}
	return s
}

// fakeResults has three rounds of sync and async in four modes: bare at
// 1000 msg/s, direct at the same rate, intercept at 0.8× in round 1 and
// 0.9× after, traced-noop at 0.96× intercept; sync latency 100 µs bare, +20 µs
// intercept.
func fakeResults() (map[string]map[string][]sample, []modeSpec, []workloadSpec) {
	modes := []modeSpec{modeSpecs[0], modeSpecs[1], modeSpecs[2], modeSpecs[3]}
	res := map[string]map[string][]sample{}
	for _, w := range workloadSpecs[:2] {
		res[w.Name] = map[string][]sample{}
		for round := range 3 {
			icpt := 0.9
			if round == 0 {
				icpt = 0.8
			}
			for name, f := range map[string]struct {
				rate float64
				lat  time.Duration
			}{
				"bare":        {1000, 100 * time.Microsecond},
				"direct":      {1000, 100 * time.Microsecond},
				"intercept":   {1000 * icpt, 120 * time.Microsecond},
				"traced-noop": {1000 * icpt * 0.96, 130 * time.Microsecond},
			} {
				res[w.Name][name] = append(res[w.Name][name], fakeSample(100, f.rate, f.lat, 20*time.Microsecond))
			}
		}
	}
	return res, modes, workloadSpecs[:2]
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestNewReport_RatiosPerRoundAndTargets(t *testing.T) {
	res, modes, workloads := fakeResults()
	rep := newReport(res, modes, workloads, defaults(false))

	async := rep.result("async", "intercept")
	if async == nil || async.VsBare == nil {
		t.Fatal("no comparison of intercept async with bare")
	}
	if sp := async.VsBare.Throughput; !near(sp.Median, 0.9) || !near(sp.Min, 0.8) || !near(sp.Max, 0.9) {
		t.Errorf("intercept/bare throughput = %+v, want median 0.9, min 0.8, max 0.9", *sp)
	}
	if sp := rep.result("sync", "intercept").VsBare.P50Delta; !near(sp.Median, 20) {
		t.Errorf("intercept p50 − bare = %+v µs, want 20", *sp)
	}
	if f := rep.result("sync", "bare").Summary; !near(f.P50.Median, 100) || !near(f.ClientCPU.Median, 20) || !near(f.Allocs.Median, 10) || !near(f.Bytes.Median, 1000) {
		t.Errorf("bare sync summary: p50 %v µs, cpu %v µs/msg, %v allocs/msg, %v B/msg; want 100, 20, 10, 1000", f.P50.Median, f.ClientCPU.Median, f.Allocs.Median, f.Bytes.Median)
	}
	if f := rep.result("sync", "bare").Summary; f.BrokerCPU != nil {
		t.Errorf("broker CPU summarised as %+v although no round measured it", *f.BrokerCPU)
	}
	if rep.result("sync", "bare").VsBare != nil || rep.result("sync", "intercept").VsIntercept != nil {
		t.Error("bare compared with itself, or an untraced mode with intercept")
	}
	if sp := rep.result("async", "traced-noop").VsIntercept.Throughput; !near(sp.Median, 0.96) {
		t.Errorf("traced/intercept throughput = %+v, want 0.96", *sp)
	}

	verdicts := map[string]string{}
	for _, tr := range rep.Targets {
		v := "unmeasured"
		if tr.Met != nil {
			v = map[bool]string{true: "met", false: "missed"}[*tr.Met]
		}
		verdicts[tr.Mode+" "+tr.Goal] = v
	}
	for goal, want := range map[string]string{
		"intercept async throughput ≥ 0.90× bare":         "met", // a median of exactly 0.90
		"intercept sync p50 ≤ bare +30 µs":                "met",
		"direct async throughput ≥ 0.99× bare":            "met",
		"traced-noop async throughput ≥ 0.95× intercept":  "met",
		"traced-batch async throughput ≥ 0.95× intercept": "unmeasured",
	} {
		if verdicts[goal] != want {
			t.Errorf("target %q: %s, want %s (all: %v)", goal, verdicts[goal], want, verdicts)
		}
	}
}

func TestReport_TableAndJSON(t *testing.T) {
	res, modes, workloads := fakeResults()
	rep := newReport(res, modes, workloads, defaults(false))
	rep.Command = "go run ./bench"
	rep.Machine = currentMachine([]float64{0.5, 0.6, 0.7}, []float64{0.8, 0.9, 1.0})
	var out bytes.Buffer
	if err := rep.writeTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{
		{"load average 0.50 0.60 0.70 at the start, 0.80 0.90 1.00 at the end"},
		{"sync send, 1 KiB"},
		{"mesh intercept", "900 (800–900)", "0.90 (0.80–0.90)", "120 (120–120)", "+20 (+20–+20)", "20.0 (1.00×)"},
		{"mesh intercept", "async throughput ≥ 0.90× bare", "0.90 (0.80–0.90)", "met"},
		{"intercept + tracing (batch exporter)", "not measured"},
	} {
		if !hasLine(out.String(), want...) {
			t.Errorf("table has no line with %q:\n%s", want, out.String())
		}
	}

	path := filepath.Join(t.TempDir(), "bench.json")
	if err := rep.writeJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Command   string
		Workloads []struct {
			Name  string
			Modes []struct {
				Mode   string
				Rounds []roundFigures
				VsBare *comparison `json:"vs_bare"`
			}
		}
		Targets []targetResult
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("the JSON does not decode: %v", err)
	}
	if back.Command != "go run ./bench" || len(back.Workloads) != 2 || len(back.Workloads[0].Modes) != 4 || len(back.Workloads[0].Modes[2].Rounds) != 3 {
		t.Errorf("JSON holds command %q, %d workloads of %d modes of %d rounds; want the report's", back.Command, len(back.Workloads), len(back.Workloads[0].Modes), len(back.Workloads[0].Modes[2].Rounds))
	}
	if vs := back.Workloads[1].Modes[2].VsBare; vs == nil || !near(vs.Throughput.Median, 0.9) {
		t.Errorf("JSON intercept async vs bare = %+v, want a throughput ratio of 0.9", vs)
	}
}

func TestReport_Markdown(t *testing.T) {
	res, modes, workloads := fakeResults()
	rep := newReport(res, modes, workloads, defaults(false))
	rep.Command = "go run ./bench -modes a|b"
	rep.Machine = currentMachine(nil, nil)
	var out bytes.Buffer
	if err := rep.writeMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	md := out.String()
	for _, want := range []string{
		"rmqmesh benchmark: go run ./bench -modes a\\|b  \n", // a pipe would split a cell
		"**sync send, 1 KiB — 3000 sends per round; latency of one send**\n\n| mode | msg/s | × bare | p50 µs |",
		"| mesh intercept | 900 (800–900) | 0.90 (0.80–0.90) | 120 (120–120) | +20 (+20–+20) |",
		"| mesh intercept | async throughput ≥ 0.90× bare | 0.90 (0.80–0.90) | met |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	// Every table row has as many cells as its header.
	cells := 0
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cells = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, "\\|", ""), "|")
		if cells == 0 {
			cells = n
		} else if n != cells {
			t.Errorf("row %q has %d separators, its header %d", line, n, cells)
		}
	}
}

// -render redraws a run from its JSON: the same tables and chart as the run.
func TestReadReport_RendersAsTheRun(t *testing.T) {
	res, modes, workloads := fakeResults()
	rep := newReport(res, modes, workloads, defaults(false))
	rep.Command = "go run ./bench"
	rep.Machine = currentMachine([]float64{0.5, 0.6, 0.7}, []float64{0.8, 0.9, 1.0})
	rep.Spans = map[string]int{"traced-noop": 7}
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := rep.writeJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := readReport(path)
	if err != nil {
		t.Fatal(err)
	}
	var want, got bytes.Buffer
	if err := rep.writeMarkdown(&want); err != nil {
		t.Fatal(err)
	}
	if err := back.writeMarkdown(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("rendered from JSON:\n%s\nthe run's:\n%s", got.String(), want.String())
	}
	if renderSVG(back) != renderSVG(rep) {
		t.Error("the chart rendered from JSON differs from the run's")
	}

	if err := os.WriteFile(path, []byte(`{"command":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readReport(path); err == nil || !strings.Contains(err.Error(), "not a file the benchmark wrote") {
		t.Errorf("a JSON without workloads: %v", err)
	}
	if _, err := readReport(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "reading -render") {
		t.Errorf("a missing file: %v", err)
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -12345: "-12,345"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
}

// hasLine reports whether a line of text contains every part, in order.
func hasLine(text string, parts ...string) bool {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := line, true
		for _, p := range parts {
			i := strings.Index(rest, p)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(p):]
		}
		if ok {
			return true
		}
	}
	return false
}
