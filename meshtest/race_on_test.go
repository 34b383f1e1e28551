//go:build race

package meshtest

// raceDetector reports whether the tests run with -race.
const raceDetector = true
