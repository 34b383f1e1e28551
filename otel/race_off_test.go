//go:build !race

package otel_test

// raceDetector reports whether the tests run with -race.
const raceDetector = false
