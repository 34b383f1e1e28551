//go:build !unix

package main

import "time"

// processCPU reports that the process's CPU time is not known here: the
// benchmark then leaves CPU per message out.
func processCPU() (time.Duration, bool) { return 0, false }
