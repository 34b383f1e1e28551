package otel_test

import (
	"regexp"
	"testing"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
)

// semver is the Semantic Versioning 2.0.0 grammar, without build metadata.
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$`)

func TestVersion_IsSemver(t *testing.T) {
	if v := rmqotel.Version(); !semver.MatchString(v) {
		t.Errorf("Version() = %q, not a semantic version", v)
	}
}
