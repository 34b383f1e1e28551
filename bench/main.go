// Command bench measures what rmqmesh costs an application: the official
// RocketMQ Go client alone (bare), built by a mesh on the direct data path, on
// the intercept data path (the default), and on the intercept data path with
// OpenTelemetry tracing, side by side on the same brokers in one run.
//
//	go run ./bench                 # the full run: 5 rounds, a few minutes
//	go run ./bench -quick          # seconds: what CI runs so that it never rots
//	go run ./bench -json docs/benchmarks.json -svg docs/benchmarks.svg -markdown docs/benchmarks-table.md
//
// Without flags naming a cluster it re-executes itself as a second process that
// runs a meshtest RocketMQ cluster (two brokers) and a meshtest xDS control
// plane, so that the brokers' CPU is not charged to the client. Against a real
// cluster, -namesrv (or NAMESRV_ADDR) is what the bare client connects to, and
// -bootstrap (or ROCKETMQ_XDS_BOOTSTRAP and the other variables a mesh reads)
// with -target is what the meshes use; the topics must exist (-topic,
// -e2e-topic, -backlog-topic).
//
// Workloads, each run in every mode in each round:
//
//   - sync: SendSync of 1 KiB messages one after the other (latency p50, p99, p999);
//   - async: SendAsync of 1 KiB messages, at most -inflight awaiting their callbacks;
//   - batch: SendSync of batches of 32 × 1 KiB;
//   - e2e: one message at a time from the producer to a push consumer's callback;
//   - drain: a push consumer of a new group consuming a backlog from its first offset.
//
// Modes and workloads are interleaved: each round runs every workload in every
// mode, the modes in an order rotated by one each round, so that a machine
// whose load drifts weighs on all modes alike. A warm-up round comes first and
// is not counted. Per workload and mode it reports messages per second,
// latency percentiles, the client process's CPU per message (rusage), the
// broker process's CPU per message (meshtest cluster only), heap allocations and
// bytes per message (runtime/metrics), and ratios to the bare client: each
// figure is the median of the rounds, with the lowest and highest round. Ratios
// are taken per round, between runs minutes apart at most, and then summarised.
//
// The table goes to standard output, a progress line to standard error; -json,
// -svg and -markdown write the results, a chart of them and the tables as
// Markdown; -render redraws all of them from a JSON file of an earlier run. -cpuprofile and -memprofile
// write pprof profiles of the whole run (narrow it with -modes and -workloads).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// settings are the sizes of a run.
type settings struct {
	Quick     bool `json:"quick"`
	Rounds    int  `json:"rounds"`
	Sync      int  `json:"sync_sends"`
	Async     int  `json:"async_sends"`
	InFlight  int  `json:"async_in_flight"`
	Batches   int  `json:"batches"`
	BatchSize int  `json:"batch_size"`
	E2E       int  `json:"e2e_messages"`
	Backlog   int  `json:"backlog"`
	BodyBytes int  `json:"body_bytes"`

	Topic        string `json:"topic"`
	E2ETopic     string `json:"e2e_topic"`
	BacklogTopic string `json:"backlog_topic"`
	// Cluster says what the clients talked to.
	Cluster string `json:"cluster"`
}

// defaults are the full run's sizes, or -quick's.
func defaults(quick bool) settings {
	s := settings{
		Rounds: 5, Sync: 3000, Async: 30000, InFlight: 128, Batches: 1500, E2E: 1500, Backlog: 20000,
		BatchSize: batchSize, BodyBytes: 1024, Topic: "bench", E2ETopic: "bench-e2e", BacklogTopic: "bench-backlog",
	}
	if quick {
		s.Quick, s.Rounds, s.Sync, s.Async, s.Batches, s.E2E, s.Backlog = true, 2, 100, 1000, 20, 50, 1000
	}
	return s
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		quick        = fs.Bool("quick", false, "a run of seconds with small counts (what CI runs)")
		rounds       = fs.Int("rounds", 0, "rounds counted (default 5, or 2 with -quick)")
		modeList     = fs.String("modes", names(modeSpecs, func(s modeSpec) string { return s.Name }), "modes to run, comma-separated")
		workloadList = fs.String("workloads", names(workloadSpecs, func(w workloadSpec) string { return w.Name }), "workloads to run, comma-separated")
		syncN        = fs.Int("sync", 0, "sync sends per round and mode (0: the default)")
		asyncN       = fs.Int("async", 0, "async sends per round and mode (0: the default)")
		inflight     = fs.Int("inflight", 0, "async sends awaiting their callbacks at most (0: 128)")
		batches      = fs.Int("batches", 0, "batches of 32 per round and mode (0: the default)")
		e2eN         = fs.Int("e2e", 0, "produce → consume messages per round and mode (0: the default)")
		backlog      = fs.Int("backlog", 0, "messages a drain consumes (0: the default)")
		jsonPath     = fs.String("json", "", "write the results as JSON to this file")
		svgPath      = fs.String("svg", "", "write a chart of the results as SVG to this file")
		mdPath       = fs.String("markdown", "", "write the tables as Markdown to this file")
		render       = fs.String("render", "", "measure nothing: print the table of a JSON file an earlier run wrote (and write -svg and -markdown from it)")
		cpuProfile   = fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		memProfile   = fs.String("memprofile", "", "write an allocation profile of the whole run to this file")
		namesrv      = fs.String("namesrv", os.Getenv("NAMESRV_ADDR"), "a real cluster's nameserver, for the bare client (default $NAMESRV_ADDR)")
		bootPath     = fs.String("bootstrap", "", "a real control plane's xDS bootstrap file, for the meshes (default: the environment, as a mesh reads it)")
		target       = fs.String("target", "", "the meshes' xds:/// target with a real control plane")
		topic        = fs.String("topic", "", `topic of the send workloads (default "bench")`)
		e2eTopic     = fs.String("e2e-topic", "", `topic of the produce → consume workload (default "bench-e2e")`)
		backlogTopic = fs.String("backlog-topic", "", `topic of the drain workload; it gets -backlog messages first (default "bench-backlog")`)
		// The cluster process's own flags.
		serve     = fs.Bool(clusterFlag, false, "serve a meshtest cluster and control plane (the benchmark runs itself with it)")
		queues    = fs.Int("queues", 4, "with -"+clusterFlag+": queues per topic and broker")
		retention = fs.Int("retention", 0, "with -"+clusterFlag+": messages per queue and requests per broker kept")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *serve {
		return serveCluster(ctx, clusterSpec{Topics: strings.Split(*topic, ","), Queues: *queues, Retention: *retention}, stdin, stdout)
	}

	if *render != "" {
		rep, err := readReport(*render)
		if err != nil {
			return err
		}
		return rep.write(stdout, "", *svgPath, *mdPath)
	}

	s := defaults(*quick)
	for _, o := range []struct {
		flag int
		to   *int
	}{{*rounds, &s.Rounds}, {*syncN, &s.Sync}, {*asyncN, &s.Async}, {*inflight, &s.InFlight}, {*batches, &s.Batches}, {*e2eN, &s.E2E}, {*backlog, &s.Backlog}} {
		if o.flag < 0 {
			return fmt.Errorf("counts cannot be negative: %d", o.flag)
		}
		if o.flag > 0 {
			*o.to = o.flag
		}
	}
	for _, o := range []struct{ flag, to *string }{{topic, &s.Topic}, {e2eTopic, &s.E2ETopic}, {backlogTopic, &s.BacklogTopic}} {
		if *o.flag != "" {
			*o.to = *o.flag
		}
	}
	modes, err := selectModes(*modeList)
	if err != nil {
		return err
	}
	workloads, err := selectWorkloads(*workloadList)
	if err != nil {
		return err
	}

	// The official client logs to standard output through its own logger.
	rlog.SetLogLevel("fatal")
	primitive.PanicHandler = func(r any) { fmt.Fprintln(stderr, "bench: recovered client panic:", r) }
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	progress := newProgress(stderr)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	started := time.Now()
	load0 := loadAverage()
	ep, cluster, err := connect(ctx, s, *namesrv, *bootPath, *target, modes, progress)
	if err != nil {
		return err
	}
	if cluster != nil {
		defer cluster.Close()
		s.Cluster = "meshtest cluster (2 brokers × 4 queues) and control plane in a second process"
	} else {
		s.Cluster = fmt.Sprintf("nameserver %s, xDS target %s", ep.nameServer, ep.target)
	}

	b := &bench{settings: s, body: []byte(strings.Repeat("b", s.BodyBytes)), runID: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	var built []*mode
	defer func() {
		for _, m := range built {
			if err := m.Close(); err != nil {
				fmt.Fprintf(stderr, "bench: closing mode %q: %v\n", m.Name, err)
			}
		}
	}()
	for _, spec := range modes {
		progress.say("starting mode %s", spec.Name)
		m, err := newMode(ctx, spec, ep, b.runID, log)
		if err != nil {
			return err
		}
		built = append(built, m)
	}
	if selected(workloads, "drain") {
		progress.say("filling the backlog topic %q with %d messages", s.BacklogTopic, s.Backlog)
		if err := fillBacklog(ctx, b, built[0], s.Backlog); err != nil {
			return err
		}
	}

	results, err := runRounds(ctx, b, built, workloads, cluster, progress)
	if err != nil {
		return err
	}
	progress.done()
	spans := map[string]int{}
	for _, m := range built {
		if m.spans == nil {
			continue
		}
		if spans[m.Name] = m.spans(); spans[m.Name] == 0 {
			return fmt.Errorf("mode %q recorded no span: tracing was not on", m.Name)
		}
	}

	rep := newReport(results, modes, workloads, s)
	rep.Command = commandLine(args)
	rep.Started = started.UTC().Truncate(time.Second)
	rep.DurationS = time.Since(started).Seconds()
	rep.Machine = currentMachine(load0, loadAverage())
	rep.Spans = spans
	if err := rep.write(stdout, *jsonPath, *svgPath, *mdPath); err != nil {
		return err
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return nil
}

// connect finds the cluster: a real one named by flags or the environment, or
// a meshtest cluster in a second process.
func connect(ctx context.Context, s settings, namesrv, bootPath, target string, modes []modeSpec, progress *progress) (endpoints, *clusterProcess, error) {
	_, envErr := bootstrap.FromEnv()
	envBootstrap := !errors.Is(envErr, bootstrap.ErrNoBootstrap)
	if namesrv == "" && bootPath == "" && !envBootstrap {
		progress.say("starting the cluster process")
		spec := clusterSpec{
			Topics: []string{s.Topic, s.E2ETopic, s.BacklogTopic},
			Queues: 4,
			// Enough to hold the backlog, and bounded for the sends.
			Retention: max(5000, s.Backlog/4),
		}
		cp, err := startClusterProcess(ctx, spec)
		if err != nil {
			return endpoints{}, nil, err
		}
		return endpoints{nameServer: cp.info.NameServer, target: cp.info.Target, bootstrap: cp.info.Bootstrap}, cp, nil
	}
	ep := endpoints{nameServer: namesrv, target: target}
	if bootPath != "" {
		data, err := os.ReadFile(bootPath)
		if err != nil {
			return endpoints{}, nil, fmt.Errorf("reading -bootstrap: %w", err)
		}
		ep.bootstrap = data
	}
	for _, m := range modes {
		if m.Name != "bare" && bootPath == "" && !envBootstrap {
			return endpoints{}, nil, fmt.Errorf("mode %q needs an xDS bootstrap: give -bootstrap or set ROCKETMQ_XDS_BOOTSTRAP, or leave it out of -modes", m.Name)
		}
	}
	return ep, nil, nil
}

// runRounds runs a warm-up round and then s.Rounds counted rounds of every
// workload in every mode, and returns the samples per workload and mode.
func runRounds(ctx context.Context, b *bench, modes []*mode, workloads []workloadSpec, cluster *clusterProcess, progress *progress) (map[string]map[string][]sample, error) {
	s := b.settings
	results := map[string]map[string][]sample{}
	steps, step := (s.Rounds+1)*len(workloads)*len(modes), 0
	for round := 0; round <= s.Rounds; round++ {
		for _, w := range workloads {
			if results[w.Name] == nil {
				results[w.Name] = map[string][]sample{}
			}
			for k := range modes {
				m := modes[(k+round)%len(modes)]
				n := w.count(s)
				if round == 0 {
					n = max(n/4, 1)
				}
				// Each run starts without the garbage of the previous one, in
				// either process.
				runtime.GC()
				if cluster != nil {
					if _, err := cluster.CPU(true); err != nil {
						return nil, err
					}
				}
				step++
				what := fmt.Sprintf("round %d/%d", round, s.Rounds)
				if round == 0 {
					what = "warm-up"
				}
				progress.status("[%d/%d] %s: %s, %s", step, steps, what, w.Name, m.Name)
				smp, err := w.run(ctx, b, m, &meter{broker: cluster}, n)
				if err != nil {
					return nil, fmt.Errorf("%s, mode %q: %w", w.Name, m.Name, err)
				}
				progress.say("[%d/%d] %s: %s, %s: %.0f msg/s", step, steps, what, w.Name, m.Name, float64(smp.msgs)/smp.elapsed.Seconds())
				if round > 0 {
					results[w.Name][m.Name] = append(results[w.Name][m.Name], smp)
				}
			}
		}
	}
	return results, nil
}

// selectNamed returns the items of all named in list (comma-separated), in
// all's order; flag and what name the list in errors.
func selectNamed[T any](list, flag, what string, all []T, name func(T) string) ([]T, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var out []T
	for _, x := range all {
		if want[name(x)] {
			out = append(out, x)
			delete(want, name(x))
		}
	}
	for n := range want {
		return nil, fmt.Errorf("unknown %s %q in %s (known: %s)", what, n, flag, names(all, name))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no %s", flag, what)
	}
	return out, nil
}

func selectWorkloads(list string) ([]workloadSpec, error) {
	return selectNamed(list, "-workloads", "workload", workloadSpecs, func(w workloadSpec) string { return w.Name })
}

func selected(ws []workloadSpec, name string) bool {
	for _, w := range ws {
		if w.Name == name {
			return true
		}
	}
	return false
}

// commandLine is the command that reproduces this run.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./bench"}
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// progress writes one line of progress to standard error: rewritten in place
// on a terminal, one line per step elsewhere.
type progress struct {
	w   io.Writer
	tty bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// status shows what runs now, on a terminal only.
func (p *progress) status(format string, args ...any) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K"+format, args...)
	}
}

// say shows what happened.
func (p *progress) say(format string, args ...any) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K"+format, args...)
		return
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// done ends the progress line.
func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
