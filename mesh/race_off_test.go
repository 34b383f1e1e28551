//go:build !race

package mesh_test

// raceDetector reports whether the tests run with -race.
const raceDetector = false
