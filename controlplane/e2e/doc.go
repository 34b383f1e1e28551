// Package e2e holds the control plane's end-to-end tests: a meshtest
// cluster (nameserver and brokers), the control plane discovering it and
// reading a policy file, a mesh following the control plane, and the
// official RocketMQ Go client producing and consuming through it. It has
// no code of its own; it exists so that the controlplane package itself
// never imports mesh, not even in tests.
package e2e
