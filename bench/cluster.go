package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
)

// clusterFlag makes the program serve a meshtest cluster and control plane
// instead of benchmarking: the benchmark re-executes itself with it, so that the
// brokers' CPU is spent, and counted, in a process of their own.
const clusterFlag = "cluster-process"

// listener is the listener the cluster process's control plane serves.
const listener = "bench"

// clusterInfo is what the cluster process tells the benchmark on its first
// line of output.
type clusterInfo struct {
	NameServer string          `json:"nameserver"`
	Target     string          `json:"target"`
	Bootstrap  json.RawMessage `json:"bootstrap"`
}

// clusterSpec is what the benchmark asks the cluster process for: the topics
// every broker carries, and how many messages per queue and requests per
// broker the brokers keep (meshtest.WithRetention) so that a long run holds
// bounded memory.
type clusterSpec struct {
	Topics    []string
	Queues    int
	Retention int
}

// args encodes the spec as the cluster process's command-line arguments.
func (s clusterSpec) args() []string {
	return []string{"-" + clusterFlag, "-topic", strings.Join(s.Topics, ","), "-queues", fmt.Sprint(s.Queues), "-retention", fmt.Sprint(s.Retention)}
}

// serveCluster is the cluster process: two broker sets and a nameserver, and an
// xDS control plane whose one listener routes every topic to both brokers on the
// mesh's default (intercept) data path. It prints a clusterInfo line, then
// answers one line per request line on in:
//
//	cpu   the process's CPU time so far, in ns
//	gc    the same, after a garbage collection (so that one run's garbage is
//	      not collected during the next)
//
// and exits when in ends: when the benchmark closes it, or dies.
func serveCluster(ctx context.Context, spec clusterSpec, in io.Reader, out io.Writer) error {
	opts := []meshtest.ClusterOption{
		meshtest.WithBroker("broker-a", 0),
		meshtest.WithBroker("broker-b", 0),
		meshtest.WithRetention(spec.Retention),
	}
	for _, t := range spec.Topics {
		opts = append(opts, meshtest.WithTopic(t, spec.Queues))
	}
	cluster, err := meshtest.NewCluster(opts...)
	if err != nil {
		return err
	}
	defer cluster.Close()
	cp, err := meshtest.NewControlPlane()
	if err != nil {
		return err
	}
	defer cp.Close()
	res, err := meshtest.MeshSpec{
		Listener: listener,
		Routes:   []meshtest.RouteSpec{{Cluster: "brokers"}},
		Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: cluster.BrokerEndpoints(spec.Queues)}},
	}.Resources()
	if err != nil {
		return err
	}
	if err := cp.Update(ctx, res); err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	if err := json.NewEncoder(w).Encode(clusterInfo{
		NameServer: cluster.NameServerAddr(),
		Target:     "xds:///" + listener,
		Bootstrap:  cp.Bootstrap(),
	}); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch sc.Text() {
		case "gc":
			runtime.GC()
			fallthrough
		case "cpu":
			cpu, _ := processCPU()
			fmt.Fprintln(w, int64(cpu))
		default:
			fmt.Fprintf(w, "error: unknown request %q\n", sc.Text())
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

// clusterProcess is the benchmark's handle on the cluster process.
type clusterProcess struct {
	info clusterInfo
	cmd  *exec.Cmd

	mu  sync.Mutex // serialises requests
	in  io.WriteCloser
	out *bufio.Scanner
}

// startClusterProcess re-executes this program as the cluster process and
// waits for it to tell its addresses.
func startClusterProcess(ctx context.Context, spec clusterSpec) (*clusterProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start the cluster process: %w", err)
	}
	cmd := exec.Command(self, spec.args()...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the cluster process: %w", err)
	}
	p := &clusterProcess{cmd: cmd, in: in, out: bufio.NewScanner(stdout)}
	first := make(chan error, 1)
	go func() {
		if !p.out.Scan() {
			first <- fmt.Errorf("the cluster process ended before it started: %v", p.out.Err())
			return
		}
		first <- json.Unmarshal(p.out.Bytes(), &p.info)
	}()
	select {
	case err = <-first:
	case <-ctx.Done():
		err = ctx.Err()
	case <-time.After(time.Minute):
		err = errors.New("the cluster process did not start within a minute")
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("cluster process: %w", err)
	}
	return p, nil
}

// CPU returns the CPU time the cluster process has used; with collect, it
// collects its garbage first.
func (p *clusterProcess) CPU(collect bool) (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	req := "cpu\n"
	if collect {
		req = "gc\n"
	}
	if _, err := io.WriteString(p.in, req); err != nil {
		return 0, fmt.Errorf("cluster process: %w", err)
	}
	if !p.out.Scan() {
		return 0, fmt.Errorf("cluster process ended: %v", p.out.Err())
	}
	var ns int64
	if _, err := fmt.Sscan(p.out.Text(), &ns); err != nil {
		return 0, fmt.Errorf("cluster process answered %q: %w", p.out.Text(), err)
	}
	return time.Duration(ns), nil
}

// Close ends the cluster process: its input ends, and after ten seconds
// without exiting it is killed.
func (p *clusterProcess) Close() error {
	p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		return <-done
	}
}
