package otel

import "github.com/rmqmesh/rmqmesh"

// Version returns the version of this instrumentation, in the form
// MAJOR.MINOR.PATCH: the library's, since it ships with it and is reported as
// the instrumentation scope version of every tracer and meter it creates.
func Version() string { return rmqmesh.Version }
