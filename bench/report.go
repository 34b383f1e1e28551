package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report is a run's results: what the table, the JSON file and the chart show.
type report struct {
	Command   string           `json:"command"`
	Started   time.Time        `json:"started"`
	DurationS float64          `json:"duration_s"`
	Machine   machine          `json:"machine"`
	Settings  settings         `json:"settings"`
	Modes     []modeSpec       `json:"modes"`
	Workloads []workloadResult `json:"workloads"`
	Targets   []targetResult   `json:"targets"`
	// Spans counts the spans each traced mode recorded over the run.
	Spans map[string]int `json:"spans_recorded,omitempty"`
}

// machine is where a run ran.
type machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	GoVersion string `json:"go_version"`
	// LoadStart and LoadEnd are the 1, 5 and 15 minute load averages when the
	// run started and ended (Linux only): the share of the machine other
	// processes wanted.
	LoadStart []float64 `json:"load_average_start,omitempty"`
	LoadEnd   []float64 `json:"load_average_end,omitempty"`
}

type workloadResult struct {
	workloadSpec
	Modes []modeResult `json:"modes"`
}

// modeResult is one workload in one mode: each round's figures, their
// summary, and the ratios to the bare client (and, for the traced modes, to
// the untraced intercept mode) taken round by round.
type modeResult struct {
	Mode        string         `json:"mode"`
	Rounds      []roundFigures `json:"rounds"`
	Summary     figures        `json:"summary"`
	VsBare      *comparison    `json:"vs_bare,omitempty"`
	VsIntercept *comparison    `json:"vs_intercept,omitempty"`
}

// roundFigures is what one round measured. Latencies are in microseconds,
// CPU in microseconds per message.
type roundFigures struct {
	Messages  int      `json:"messages"`
	ElapsedS  float64  `json:"elapsed_s"`
	MsgsPerS  float64  `json:"msgs_per_s"`
	P50       *float64 `json:"p50_us,omitempty"`
	P99       *float64 `json:"p99_us,omitempty"`
	P999      *float64 `json:"p999_us,omitempty"`
	ClientCPU *float64 `json:"client_cpu_us_per_msg,omitempty"`
	BrokerCPU *float64 `json:"broker_cpu_us_per_msg,omitempty"`
	Allocs    float64  `json:"allocs_per_msg"`
	Bytes     float64  `json:"bytes_per_msg"`
	// Syscalls is the client process's read and write system calls per
	// message (Linux only).
	Syscalls *float64 `json:"client_syscalls_per_msg,omitempty"`
}

// figures summarises roundFigures over the rounds.
type figures struct {
	MsgsPerS  *spread `json:"msgs_per_s"`
	P50       *spread `json:"p50_us,omitempty"`
	P99       *spread `json:"p99_us,omitempty"`
	P999      *spread `json:"p999_us,omitempty"`
	ClientCPU *spread `json:"client_cpu_us_per_msg,omitempty"`
	BrokerCPU *spread `json:"broker_cpu_us_per_msg,omitempty"`
	Allocs    *spread `json:"allocs_per_msg"`
	Bytes     *spread `json:"bytes_per_msg"`
	Syscalls  *spread `json:"client_syscalls_per_msg,omitempty"`
}

// comparison is a mode against a reference mode, round by round: throughput
// and client CPU per message as ratios, latencies as differences (µs).
type comparison struct {
	Throughput *spread `json:"throughput_ratio"`
	P50Delta   *spread `json:"p50_delta_us,omitempty"`
	P99Delta   *spread `json:"p99_delta_us,omitempty"`
	ClientCPU  *spread `json:"client_cpu_ratio,omitempty"`
}

func ptr(f float64) *float64 { return &f }

func µs(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// figuresOf turns one run's sample into its figures.
func figuresOf(s sample) roundFigures {
	msgs := float64(max(s.msgs, 1))
	f := roundFigures{
		Messages: s.msgs,
		ElapsedS: s.elapsed.Seconds(),
		MsgsPerS: float64(s.msgs) / s.elapsed.Seconds(),
		Allocs:   float64(s.allocs) / msgs,
		Bytes:    float64(s.bytes) / msgs,
	}
	if len(s.lat) > 0 {
		lat := slices.Clone(s.lat)
		slices.Sort(lat)
		f.P50, f.P99, f.P999 = ptr(µs(percentile(lat, 0.50))), ptr(µs(percentile(lat, 0.99))), ptr(µs(percentile(lat, 0.999)))
	}
	if s.cpu >= 0 {
		f.ClientCPU = ptr(µs(s.cpu) / msgs)
	}
	if s.brokerCPU >= 0 {
		f.BrokerCPU = ptr(µs(s.brokerCPU) / msgs)
	}
	if s.syscalls >= 0 {
		f.Syscalls = ptr(float64(s.syscalls) / msgs)
	}
	return f
}

// over returns get of every round, NaN where a round has no such figure.
func over(rounds []roundFigures, get func(roundFigures) *float64) []float64 {
	out := make([]float64, len(rounds))
	for i, r := range rounds {
		out[i] = math.NaN()
		if v := get(r); v != nil {
			out[i] = *v
		}
	}
	return out
}

func summarise(rounds []roundFigures) figures {
	return figures{
		MsgsPerS:  spreadOf(over(rounds, func(r roundFigures) *float64 { return &r.MsgsPerS })),
		P50:       spreadOf(over(rounds, func(r roundFigures) *float64 { return r.P50 })),
		P99:       spreadOf(over(rounds, func(r roundFigures) *float64 { return r.P99 })),
		P999:      spreadOf(over(rounds, func(r roundFigures) *float64 { return r.P999 })),
		ClientCPU: spreadOf(over(rounds, func(r roundFigures) *float64 { return r.ClientCPU })),
		BrokerCPU: spreadOf(over(rounds, func(r roundFigures) *float64 { return r.BrokerCPU })),
		Allocs:    spreadOf(over(rounds, func(r roundFigures) *float64 { return &r.Allocs })),
		Bytes:     spreadOf(over(rounds, func(r roundFigures) *float64 { return &r.Bytes })),
		Syscalls:  spreadOf(over(rounds, func(r roundFigures) *float64 { return r.Syscalls })),
	}
}

// compare compares rounds with the reference's rounds of the same numbers.
func compare(rounds, ref []roundFigures) *comparison {
	n := min(len(rounds), len(ref))
	per := func(f func(a, b roundFigures) float64) *spread {
		xs := make([]float64, n)
		for i := range n {
			xs[i] = f(rounds[i], ref[i])
		}
		return spreadOf(xs)
	}
	nan := math.NaN()
	return &comparison{
		Throughput: per(func(a, b roundFigures) float64 { return a.MsgsPerS / b.MsgsPerS }),
		P50Delta: per(func(a, b roundFigures) float64 {
			if a.P50 == nil || b.P50 == nil {
				return nan
			}
			return *a.P50 - *b.P50
		}),
		P99Delta: per(func(a, b roundFigures) float64 {
			if a.P99 == nil || b.P99 == nil {
				return nan
			}
			return *a.P99 - *b.P99
		}),
		ClientCPU: per(func(a, b roundFigures) float64 {
			if a.ClientCPU == nil || b.ClientCPU == nil {
				return nan
			}
			return *a.ClientCPU / *b.ClientCPU
		}),
	}
}

// newReport turns the samples into a report.
func newReport(results map[string]map[string][]sample, modes []modeSpec, workloads []workloadSpec, s settings) *report {
	rep := &report{Settings: s, Modes: modes}
	for _, w := range workloads {
		wr := workloadResult{workloadSpec: w}
		rounds := map[string][]roundFigures{}
		for _, m := range modes {
			for _, smp := range results[w.Name][m.Name] {
				rounds[m.Name] = append(rounds[m.Name], figuresOf(smp))
			}
		}
		for _, m := range modes {
			mr := modeResult{Mode: m.Name, Rounds: rounds[m.Name], Summary: summarise(rounds[m.Name])}
			if ref, ok := rounds["bare"]; ok && m.Name != "bare" {
				mr.VsBare = compare(mr.Rounds, ref)
			}
			if ref, ok := rounds["intercept"]; ok && strings.HasPrefix(m.Name, "traced") {
				mr.VsIntercept = compare(mr.Rounds, ref)
			}
			wr.Modes = append(wr.Modes, mr)
		}
		rep.Workloads = append(rep.Workloads, wr)
	}
	rep.Targets = evaluateTargets(rep)
	return rep
}

// result returns the figures of a workload in a mode, or nil.
func (r *report) result(workload, mode string) *modeResult {
	for i := range r.Workloads {
		if r.Workloads[i].Name != workload {
			continue
		}
		for j := range r.Workloads[i].Modes {
			if r.Workloads[i].Modes[j].Mode == mode {
				return &r.Workloads[i].Modes[j]
			}
		}
	}
	return nil
}

// target is a figure rmqmesh promises to meet, or to explain.
type target struct {
	mode, workload string
	// versus is the reference mode: "bare" or "intercept".
	versus string
	// latency: the goal bounds the p50 difference (µs) from above; otherwise
	// it bounds the throughput ratio from below.
	latency bool
	goal    float64
}

// targets are the issue's: the relay costs at most 10% of the bare client's
// async throughput and 30 µs of its sync latency, the direct path at most 1%,
// and tracing at most 5% of what the same path does untraced.
var targets = []target{
	{mode: "intercept", workload: "async", versus: "bare", goal: 0.90},
	{mode: "intercept", workload: "sync", versus: "bare", latency: true, goal: 30},
	{mode: "direct", workload: "async", versus: "bare", goal: 0.99},
	{mode: "direct", workload: "sync", versus: "bare", goal: 0.99},
	{mode: "traced-noop", workload: "async", versus: "intercept", goal: 0.95},
	{mode: "traced-noop", workload: "sync", versus: "intercept", goal: 0.95},
	{mode: "traced-batch", workload: "async", versus: "intercept", goal: 0.95},
	{mode: "traced-batch", workload: "sync", versus: "intercept", goal: 0.95},
}

// targetResult is one target and what the run measured for it: the median of
// the per-round figures, with the lowest and highest round.
type targetResult struct {
	Mode     string  `json:"mode"`
	Workload string  `json:"workload"`
	Versus   string  `json:"versus"`
	Goal     string  `json:"goal"`
	Measured *spread `json:"measured,omitempty"`
	Met      *bool   `json:"met,omitempty"`
}

func (t target) describe() string {
	if t.latency {
		return fmt.Sprintf("%s p50 ≤ %s +%.0f µs", t.workload, t.versus, t.goal)
	}
	return fmt.Sprintf("%s throughput ≥ %.2f× %s", t.workload, t.goal, t.versus)
}

func evaluateTargets(rep *report) []targetResult {
	var out []targetResult
	for _, t := range targets {
		tr := targetResult{Mode: t.mode, Workload: t.workload, Versus: t.versus, Goal: t.describe()}
		if r := rep.result(t.workload, t.mode); r != nil {
			cmp := r.VsBare
			if t.versus == "intercept" {
				cmp = r.VsIntercept
			}
			if cmp != nil {
				tr.Measured = cmp.Throughput
				if t.latency {
					tr.Measured = cmp.P50Delta
				}
			}
		}
		if tr.Measured != nil {
			met := tr.Measured.Median >= t.goal
			if t.latency {
				met = tr.Measured.Median <= t.goal
			}
			tr.Met = &met
		}
		out = append(out, tr)
	}
	return out
}

func (r *report) label(mode string) string {
	for _, m := range modeSpecs {
		if m.Name == mode {
			return m.Label
		}
	}
	return mode
}

// count is how many operations a round of w did, and what they are.
func (r *report) count(w workloadResult) string {
	s := r.Settings
	switch w.Name {
	case "sync":
		return fmt.Sprintf("%d sends per round", s.Sync)
	case "async":
		return fmt.Sprintf("%d sends per round, %d in flight", s.Async, s.InFlight)
	case "batch":
		return fmt.Sprintf("%d batches of %d per round", s.Batches, s.BatchSize)
	case "e2e":
		return fmt.Sprintf("%d messages per round, one at a time", s.E2E)
	case "drain":
		return fmt.Sprintf("a backlog of %d per round, from the consumer's start", s.Backlog)
	}
	return ""
}

// header is the lines above the tables: the command, the machine and how to
// read the figures.
func (r *report) header() []string {
	lines := []string{
		fmt.Sprintf("rmqmesh benchmark: %s", r.Command),
		fmt.Sprintf("%s/%s, %d CPUs %s, %s; %s", r.Machine.OS, r.Machine.Arch, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion, r.Settings.Cluster),
	}
	if r.Machine.LoadStart != nil {
		lines = append(lines, fmt.Sprintf("load average %s at the start, %s at the end", loadString(r.Machine.LoadStart), loadString(r.Machine.LoadEnd)))
	}
	return append(lines, fmt.Sprintf("%d rounds after a warm-up, modes interleaved; each figure is the median of the rounds (lowest–highest round)", r.Settings.Rounds))
}

// title is a workload's table title.
func (r *report) title(w workloadResult) string {
	t := fmt.Sprintf("%s — %s", w.Title, r.count(w))
	if w.Op != "" {
		t += fmt.Sprintf("; latency of one %s", w.Op)
	}
	return t
}

// rows is a workload's table: its column names, then a row per mode.
func (r *report) rows(w workloadResult) [][]string {
	head := []string{"mode", "msg/s", "× bare"}
	if w.Op != "" {
		head = append(head, "p50 µs", "p50 − bare", "p99 µs", "p999 µs")
	}
	out := [][]string{append(head, "client CPU µs/msg (× bare)", "broker CPU µs/msg", "allocs/msg", "B/msg", "syscalls/msg")}
	for _, m := range w.Modes {
		f := m.Summary
		ratio, delta := "1.00", ""
		if m.Mode != "bare" {
			ratio = "–" // bare was not run
		}
		if m.VsBare != nil {
			ratio = spreadString(m.VsBare.Throughput, "%.2f")
			delta = spreadString(m.VsBare.P50Delta, "%+.0f")
		}
		row := []string{r.label(m.Mode), spreadString(f.MsgsPerS, "%s"), ratio}
		if w.Op != "" {
			row = append(row, spreadString(f.P50, "%.0f"), delta, medianString(f.P99, "%.0f"), medianString(f.P999, "%.0f"))
		}
		cpu := medianString(f.ClientCPU, "%.1f")
		if m.VsBare != nil && m.VsBare.ClientCPU != nil {
			cpu += fmt.Sprintf(" (%.2f×)", m.VsBare.ClientCPU.Median)
		}
		out = append(out, append(row, cpu, medianString(f.BrokerCPU, "%.1f"), medianString(f.Allocs, "%.0f"), medianString(f.Bytes, "%.0f"), medianString(f.Syscalls, "%.1f")))
	}
	return out
}

// targetRows is a row per target: mode, goal, measured figure, verdict.
func (r *report) targetRows() [][]string {
	var out [][]string
	for _, t := range r.Targets {
		verdict, format := "not measured", "%.2f"
		if strings.Contains(t.Goal, "µs") {
			format = "%+.1f µs"
		}
		if t.Met != nil {
			verdict = "met"
			if !*t.Met {
				verdict = "MISSED"
			}
		}
		out = append(out, []string{r.label(t.Mode), t.Goal, spreadString(t.Measured, format), verdict})
	}
	return out
}

// spanLines say how many spans each traced mode recorded.
func (r *report) spanLines() []string {
	var out []string
	for _, m := range r.Modes {
		if n, ok := r.Spans[m.Name]; ok {
			out = append(out, fmt.Sprintf("%s recorded %d spans", r.label(m.Name), n))
		}
	}
	return out
}

// writeTable prints the report as text tables.
func (r *report) writeTable(out io.Writer) error {
	for _, l := range r.header() {
		fmt.Fprintln(out, l)
	}
	writeRows := func(rows [][]string, indent string) error {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, row := range rows {
			fmt.Fprintf(tw, "%s%s\t\n", indent, strings.Join(row, "\t"))
		}
		return tw.Flush()
	}
	for _, w := range r.Workloads {
		fmt.Fprintf(out, "\n%s\n", r.title(w))
		if err := writeRows(r.rows(w), ""); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "\ntargets (median of the per-round figures, lowest–highest round)")
	if err := writeRows(r.targetRows(), "  "); err != nil {
		return err
	}
	for _, l := range r.spanLines() {
		fmt.Fprintln(out, l)
	}
	return nil
}

// writeMarkdown writes the tables of writeTable as Markdown, for a page such
// as docs/BENCHMARKS.md to include as generated.
func (r *report) writeMarkdown(out io.Writer) error {
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	table := func(rows [][]string) {
		for i, row := range rows {
			cells := make([]string, len(row))
			for j, c := range row {
				cells[j] = cell(c)
			}
			fmt.Fprintf(out, "| %s |\n", strings.Join(cells, " | "))
			if i == 0 {
				fmt.Fprintf(out, "|%s\n", strings.Repeat("---|", len(row)))
			}
		}
	}
	fmt.Fprintln(out, "<!-- generated by the benchmark program (-markdown); do not edit -->")
	fmt.Fprintln(out)
	for _, l := range r.header() {
		fmt.Fprintf(out, "%s  \n", cell(l))
	}
	for _, w := range r.Workloads {
		fmt.Fprintf(out, "\n**%s**\n\n", cell(r.title(w)))
		table(r.rows(w))
	}
	fmt.Fprintf(out, "\n**Targets** (median of the per-round figures, lowest–highest round)\n\n")
	table(append([][]string{{"mode", "target", "measured", ""}}, r.targetRows()...))
	if spans := r.spanLines(); len(spans) > 0 {
		fmt.Fprintf(out, "\n%s.\n", strings.Join(spans, "; "))
	}
	_, err := fmt.Fprintln(out)
	return err
}

// spreadString formats a spread as "median (min–max)"; format "%s" groups
// thousands of a rate.
func spreadString(s *spread, format string) string {
	if s == nil {
		return "–"
	}
	f := func(x float64) string {
		if format == "%s" {
			return thousands(x)
		}
		return fmt.Sprintf(format, x)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

func medianString(s *spread, format string) string {
	if s == nil {
		return "–"
	}
	return fmt.Sprintf(format, s.Median)
}

// thousands formats x rounded, with thousands separated by commas.
func thousands(x float64) string {
	s := strconv.FormatInt(int64(math.Round(x)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func loadString(l []float64) string {
	if len(l) < 3 {
		return "unknown"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2])
}

// write prints the table to out and writes the files whose paths are not
// empty: the JSON, the SVG chart and the Markdown tables.
func (r *report) write(out io.Writer, jsonPath, svgPath, mdPath string) error {
	if err := r.writeTable(out); err != nil {
		return err
	}
	if jsonPath != "" {
		if err := r.writeJSON(jsonPath); err != nil {
			return err
		}
	}
	if svgPath != "" {
		if err := os.WriteFile(svgPath, []byte(renderSVG(r)), 0o644); err != nil {
			return err
		}
	}
	if mdPath != "" {
		var md strings.Builder
		if err := r.writeMarkdown(&md); err != nil {
			return err
		}
		if err := os.WriteFile(mdPath, []byte(md.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readReport reads a report that writeJSON wrote.
func readReport(path string) (*report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading -render: %w", err)
	}
	var r report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading -render %q: %w", path, err)
	}
	if len(r.Workloads) == 0 || len(r.Modes) == 0 {
		return nil, fmt.Errorf("reading -render %q: no workload or mode: not a file the benchmark wrote", path)
	}
	return &r, nil
}

// writeJSON writes the report, indented, to path.
func (r *report) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// currentMachine describes this machine.
func currentMachine(loadStart, loadEnd []float64) machine {
	m := machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadStart, LoadEnd: loadEnd}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAverage returns the 1, 5 and 15 minute load averages, or nil where
// /proc/loadavg does not exist.
func loadAverage() []float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return nil
	}
	out := make([]float64, 3)
	for i := range out {
		if out[i], err = strconv.ParseFloat(fields[i], 64); err != nil {
			return nil
		}
	}
	return out
}
