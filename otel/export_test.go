package otel

import "time"

// SetCallbackGrace shortens how long async spans wait for a late callback.
func SetCallbackGrace(t *Telemetry, d time.Duration) { t.grace = d }
