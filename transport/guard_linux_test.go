package transport_test

// guardChecksProcess says whether OwnProcessGuard tells processes apart here.
const guardChecksProcess = true
