package mesh_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// childDialEnv, when set, makes the test binary a child process that dials the
// address it holds and reports on stdout whether it was served.
const childDialEnv = "RMQMESH_MESH_TEST_CHILD_DIAL"

func childDial(addr string) int {
	c, err := net.DialTimeout("tcp", addr, meshtest.DefaultTimeout)
	if err != nil {
		fmt.Printf("dial failed: %v\n", err)
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(meshtest.DefaultTimeout))
	req := remoting.NewRequest(remoting.CodeGetMaxOffset, map[string]string{"topic": "orders", "queueId": "0"}, nil)
	req.Opaque = 1
	if err := remoting.WriteCommand(c, req); err == nil {
		if resp, err := remoting.ReadCommand(c, 0); err == nil {
			fmt.Printf("answered: code %d\n", resp.Code)
			return 0
		}
	}
	fmt.Println("closed")
	return 0
}

// TestIntercept_ForeignProcessRefused dials the relay's virtual endpoint and the
// nameserver endpoint from another process: the mesh's endpoints serve only the
// process that runs it (on Linux, where the peer's process can be checked).
func TestIntercept_ForeignProcessRefused(t *testing.T) {
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		brokers: []string{"broker-a"}, topics: []string{"orders"}, spec: allBrokers,
	}})
	virtual := routeAddrs(t, h, "orders")["broker-a"][0]
	for _, addr := range []string{virtual, h.mesh.NameServerAddr()} {
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childDialEnv+"="+addr)
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("child process: %v (%s)", err, out)
		}
		got := strings.TrimSpace(string(out))
		if wantRefused := processGuard; wantRefused != (got == "closed") {
			t.Errorf("another process dialing %s: %q; refused expected: %v", addr, got, wantRefused)
		}
	}
	// This process is served.
	if got := h.sendN(h.producer(), "orders", 1); got["broker-a"] != 1 {
		t.Errorf("this process's send went to %v", got)
	}
}
