package otel_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/rmqmesh/rmqmesh/meshtest"
)

// TestLibraryDependsOnlyOnTheAPI keeps the SDK and exporters out of what an
// application that imports rmqmesh compiles: the module's go.mod lists them for
// tests and the demo, but no library package may import them.
func TestLibraryDependsOnlyOnTheAPI(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool, which runs this test, is not on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "list", "-deps",
		"github.com/rmqmesh/rmqmesh/mesh", "github.com/rmqmesh/rmqmesh/otel")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "github.com/rmqmesh/rmqmesh/otel/oteltest", "github.com/rmqmesh/rmqmesh/meshtest"} {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") {
				t.Errorf("the library imports %s", pkg)
			}
		}
	}
}
