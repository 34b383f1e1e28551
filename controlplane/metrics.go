package controlplane

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus metrics, in its own registry.
type metrics struct {
	reg            *prometheus.Registry
	pushes         *prometheus.CounterVec
	nacks          *prometheus.CounterVec
	polls          *prometheus.CounterVec
	pollFailures   *prometheus.CounterVec
	topicsHeld     prometheus.Gauge
	clients        prometheus.Gauge
	brokers        *prometheus.GaugeVec
	resources      *prometheus.GaugeVec
	policyReloads  *prometheus.CounterVec
	buildSeconds   prometheus.Histogram
	buildWarnings  prometheus.Gauge
	discoveryProbs prometheus.Gauge
	heldWatches    prometheus.Gauge
}

const metricPrefix = "rmqmesh_controlplane_"

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricPrefix + "pushes_total",
			Help: "xDS responses sent, by resource type."}, []string{"type"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricPrefix + "nacks_total",
			Help: "xDS NACKs received, by resource type; the detail of each is logged and shown in /clients."}, []string{"type"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricPrefix + "discovery_requests_total",
			Help: "Requests to nameservers, by nameserver and request code (106 brokers, 105 topic route)."}, []string{"nameserver", "code"}),
		pollFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricPrefix + "discovery_failures_total",
			Help: "Failed requests to nameservers, by nameserver and request code."}, []string{"nameserver", "code"}),
		topicsHeld: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricPrefix + "topics_held",
			Help: "Distinct topics whose queue data is kept: those whose route configuration some client subscribes to, and the exact topics of inline routes."}),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricPrefix + "clients",
			Help: "Open ADS streams."}),
		brokers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricPrefix + "brokers",
			Help: "Broker members known, by state (registered, lost)."}, []string{"state"}),
		resources: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricPrefix + "resources",
			Help: "Resources served, by type."}, []string{"type"}),
		policyReloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricPrefix + "policy_reloads_total",
			Help: "Policy file reloads, by result (applied, rejected)."}, []string{"result"}),
		buildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricPrefix + "build_seconds",
			Help: "Time to rebuild the served resources after a change.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		buildWarnings: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricPrefix + "build_warnings",
			Help: "Warnings of the last build (see /healthz)."}),
		discoveryProbs: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricPrefix + "discovery_problems",
			Help: "Inconsistencies in the nameservers' last answers (see /healthz)."}),
		heldWatches: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricPrefix + "held_watches",
			Help: "Client subscriptions whose answer is held until discovery has answered (see /clients)."}),
	}
	m.reg.MustRegister(m.pushes, m.nacks, m.polls, m.pollFailures, m.topicsHeld, m.clients, m.brokers,
		m.resources, m.policyReloads, m.buildSeconds, m.buildWarnings, m.discoveryProbs, m.heldWatches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
