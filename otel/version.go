package otel

// version is this instrumentation's version, reported as the instrumentation
// scope version of every tracer and meter it creates. It follows the module's
// releases; it lives here, as otelgrpc keeps its own, until the module has a
// version constant of its own to point it at.
const version = "0.1.0"

// Version returns the version of this instrumentation, in the form
// MAJOR.MINOR.PATCH.
func Version() string { return version }
