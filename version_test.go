package rmqmesh_test

import (
	"regexp"
	"testing"

	"github.com/rmqmesh/rmqmesh"
)

// semver is the regular expression semver.org gives for a version, without
// the leading "v".
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func TestVersion_IsSemanticVersion(t *testing.T) {
	if !semver.MatchString(rmqmesh.Version) {
		t.Errorf("Version = %q, not a semantic version without the leading v", rmqmesh.Version)
	}
}
