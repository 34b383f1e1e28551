package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func TestServeCluster_AnnouncesAndAnswers(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- serveCluster(context.Background(), clusterSpec{Topics: []string{"bench"}, Queues: 2, Retention: 100}, inR, outW)
		outW.Close()
	}()
	out := bufio.NewScanner(outR)
	if !out.Scan() {
		t.Fatalf("no announcement: %v", out.Err())
	}
	var info clusterInfo
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		t.Fatalf("announcement %q: %v", out.Text(), err)
	}
	if !strings.HasPrefix(info.NameServer, "127.0.0.1:") || info.Target != "xds:///bench" {
		t.Errorf("announced nameserver %q, target %q", info.NameServer, info.Target)
	}
	if _, err := bootstrap.Parse(info.Bootstrap, "bench"); err != nil {
		t.Errorf("announced bootstrap does not parse: %v", err)
	}
	ask := func(req string) string {
		t.Helper()
		if _, err := io.WriteString(inW, req+"\n"); err != nil {
			t.Fatal(err)
		}
		if !out.Scan() {
			t.Fatalf("no answer to %q: %v", req, out.Err())
		}
		return out.Text()
	}
	for _, req := range []string{"cpu", "gc"} {
		ns, err := strconv.ParseInt(ask(req), 10, 64)
		if _, known := processCPU(); err != nil || (known && ns <= 0) {
			t.Errorf("%q answered %d, %v; want the CPU time in ns", req, ns, err)
		}
	}
	if got := ask("bogus"); !strings.Contains(got, `unknown request "bogus"`) {
		t.Errorf("an unknown request answered %q", got)
	}
	inW.Close() // the benchmark went away
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serveCluster ended with %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("serveCluster did not end when its input did")
	}
}

func TestClusterSpec_ArgsRoundTrip(t *testing.T) {
	spec := clusterSpec{Topics: []string{"a", "b"}, Queues: 3, Retention: 7}
	want := []string{"-cluster-process", "-topic", "a,b", "-queues", "3", "-retention", "7"}
	if got := spec.args(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("args = %q, want %q", got, want)
	}
}

func TestRun_RejectsBadFlags(t *testing.T) {
	for _, v := range []string{"ROCKETMQ_XDS_BOOTSTRAP", "ROCKETMQ_XDS_BOOTSTRAP_CONFIG", "GRPC_XDS_BOOTSTRAP", "GRPC_XDS_BOOTSTRAP_CONFIG", "NAMESRV_ADDR"} {
		t.Setenv(v, "")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-modes", "bare,sidecar"}, `unknown mode "sidecar"`},
		{[]string{"-workloads", "sync,oneway"}, `unknown workload "oneway"`},
		{[]string{"-modes", " , "}, "-modes names no mode"},
		{[]string{"-sync", "-5"}, "counts cannot be negative: -5"},
		{[]string{"-namesrv", "10.0.0.1:9876", "-modes", "bare,intercept"}, `mode "intercept" needs an xDS bootstrap`},
		{[]string{"stray"}, `unexpected arguments ["stray"]`},
	} {
		err := run(context.Background(), tc.args, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
