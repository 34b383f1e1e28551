package mesh

import (
	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// publish builds a snapshot from what has arrived and stores it in the mesh's
// table. Only the reconcile goroutine calls it.
func (w *watchState) publish() {
	w.mu.Lock()
	gen := w.gen
	if w.stopped || w.listener == nil {
		if !w.stopped {
			// A listener error cleared the table; clear it again in case a
			// build that started before the error stored its snapshot since.
			w.m.table.Store(nil)
		}
		w.pubGen = max(w.pubGen, gen)
		w.endAnsweredWaitsLocked()
		w.notifyLocked()
		w.mu.Unlock()
		return
	}
	in := routing.Input{
		Listener:    w.m.listener,
		RouteConfig: w.listener.RouteConfig,
		TopicRoutes: make(map[string]*rocketmqv3.RouteConfiguration),
		Clusters:    make(map[string]*clusterv3.Cluster),
		Endpoints:   make(map[string]*endpointv3.ClusterLoadAssignment),
		Locality:    w.m.locality,
		Versions:    map[string]string{"listener/" + w.listener.Name: w.listener.Version},
		// Without a relay (WithDataPath(routing.DataPathDirect)) every
		// cluster is served direct, whatever it requests, and the dump says so.
		InterceptAvailable: w.m.relay != nil,
		TLSRequired:        w.m.tlsRequired,
	}
	for topic, t := range w.topics {
		if t.update != nil {
			in.TopicRoutes[topic] = t.update.RouteConfig
			in.Versions["route/"+t.update.Name] = t.update.Version
		}
	}
	policies := &policySet{byCluster: make(map[string]*transport.ClusterPolicy, len(w.clusters))}
	security := make(map[string]*xdsclient.SecurityConfig)
	for name, c := range w.clusters {
		if c.update != nil {
			in.Clusters[name] = c.update.Cluster
			in.Versions["cluster/"+name] = c.update.Version
			var cla *endpointv3.ClusterLoadAssignment
			if c.endpoints != nil {
				cla = c.endpoints.Assignment
			}
			policies.byCluster[name] = clusterPolicy(c.update, cla)
			if c.update.Security != nil {
				security[name] = c.update.Security
			}
		}
		if c.endpoints != nil {
			in.Endpoints[name] = c.endpoints.Assignment
			in.Versions["endpoints/"+c.endpoints.Name] = c.endpoints.Version
		}
	}
	w.mu.Unlock()

	snap, err := routing.NewSnapshot(in)

	defer w.m.relayUpdated() // after the unlock below: the relay reads the table, not the watch
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buildErr = err
	if err != nil {
		w.m.log.Warn("route table not updated: keeping the last good one", "err", err)
	} else if !w.stopped && w.listener != nil {
		// A listener that errored while the snapshot was built stays errored:
		// storing the snapshot would serve routes of a listener that is gone.
		// Policies and TLS first: a request routed by the new table finds
		// its cluster's policy and TLS setting in force.
		w.m.policies.Store(policies)
		w.m.tls.set(security)
		w.m.table.Store(snap)
		w.m.configured.Store(true)
	}
	// After a build error the last good table stays in force: waiting for
	// another publish would not change what a query is answered from.
	w.pubGen = max(w.pubGen, gen)
	w.endAnsweredWaitsLocked()
	w.notifyLocked()
}
