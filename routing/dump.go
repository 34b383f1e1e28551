package routing

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

// dumpView is the JSON shape of [Snapshot.Dump].
type dumpView struct {
	Listener    string               `json:"listener"`
	Versions    map[string]string    `json:"versions,omitempty"`
	Locality    *Locality            `json:"locality,omitempty"`
	RouteConfig dumpTable            `json:"route_config"`
	TopicRoutes map[string]dumpTable `json:"topic_routes,omitempty"`
	Clusters    []dumpCluster        `json:"clusters"`
	// Warnings are limits of the configuration in force that a reader
	// should know about.
	Warnings []string `json:"warnings,omitempty"`
}

type dumpTable struct {
	Name   string      `json:"name,omitempty"`
	Routes []dumpRoute `json:"routes"`
}

type dumpRoute struct {
	Topic   string   `json:"topic"`
	Headers []string `json:"headers,omitempty"`
	Cluster string   `json:"cluster"`
	Subset  string   `json:"subset,omitempty"`
	// Fallback says how lb_subset_config chose the endpoints when the
	// subset did not.
	Fallback string `json:"fallback,omitempty"`
	// QueueCounts says where the queue counts of the topics the route
	// matches come from: "route topic_queues", "endpoint metadata" or
	// "nameserver".
	QueueCounts string `json:"queue_counts,omitempty"`
	// WriteShares is each broker's share of the writes the route picks.
	WriteShares map[string]float64 `json:"write_shares,omitempty"`
	Error       string             `json:"error,omitempty"`
}

type dumpCluster struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// DataPath is the path in force; RequestedDataPath what the cluster's
	// knob asks for ("unset" without one). They differ where the process
	// does not run the relay.
	DataPath          DataPath `json:"data_path"`
	RequestedDataPath DataPath `json:"requested_data_path"`
	// LB describes the balancing settings in force.
	LB        string         `json:"lb,omitempty"`
	Error     string         `json:"error,omitempty"`
	Endpoints []dumpEndpoint `json:"endpoints"`
}

type dumpEndpoint struct {
	Endpoint
	HealthStatus string `json:"health_status"`
}

// Dump returns a JSON-marshalable view of the snapshot for a config dump:
// the listener, the inline and per-topic routes with their matchers as text
// and the resolution problem of each route if any, and every cluster with
// its data path (the one in force and the one requested) and resolved
// endpoints. Its shape is for people, not a stable API.
func (s *Snapshot) Dump() any {
	if s == nil {
		return nil
	}
	v := dumpView{Listener: s.listener, Versions: s.versions, RouteConfig: dumpRoutes(s.inline), Clusters: []dumpCluster{}}
	if s.locality != (Locality{}) {
		l := s.locality
		v.Locality = &l
	}
	if len(s.topics) > 0 {
		v.TopicRoutes = make(map[string]dumpTable, len(s.topics))
		for t, rt := range s.topics {
			v.TopicRoutes[t] = dumpRoutes(rt)
		}
	}
	names := make([]string, 0, len(s.clusters))
	for n := range s.clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cl := s.clusters[n]
		dc := dumpCluster{Name: n, Type: "empty", DataPath: cl.dataPath, RequestedDataPath: cl.requested, Endpoints: make([]dumpEndpoint, 0, len(cl.endpoints))}
		if cl.err == nil && !cl.nameservers {
			dc.LB = cl.lb.describe()
		}
		for _, ep := range cl.endpoints {
			dc.Endpoints = append(dc.Endpoints, dumpEndpoint{Endpoint: ep, HealthStatus: ep.Health.String()})
		}
		switch {
		case cl.err != nil:
			dc.Type, dc.Error = "invalid", cl.err.Error()
		case cl.nameservers:
			dc.Type = "nameservers"
		case len(cl.endpoints) > 0:
			dc.Type = "brokers"
		}
		v.Clusters = append(v.Clusters, dc)
	}
	if w := s.queueCountWarning(); w != "" {
		v.Warnings = append(v.Warnings, w)
	}
	return v
}

// queueCountWarning names the routes to broker clusters whose topics take
// their queue counts from endpoint metadata, "" if none do.
func (s *Snapshot) queueCountWarning() string {
	var where []string
	s.eachRoute(func(r *Route) {
		if r.set != nil && !r.set.cluster.nameservers && r.queues == nil {
			where = append(where, r.where)
		}
	})
	if len(where) == 0 {
		return ""
	}
	const show = 5
	list := strings.Join(where[:min(len(where), show)], ", ")
	if len(where) > show {
		list += fmt.Sprintf(" and %d more", len(where)-show)
	}
	return fmt.Sprintf("queue counts of the topics matched by %s come from the brokers' endpoint metadata (%q, %q), the same for every topic: "+
		"a topic created with more queues has queues no mesh client reads or writes. Publish each topic's queues in its route's "+
		"metadata_match.filter_metadata[%q][%q], or route its queries to a nameserver cluster.",
		list, wellknown.ReadQueueNumKey, wellknown.WriteQueueNumKey, wellknown.MeshMetadataNamespace, wellknown.TopicQueuesKey)
}

func dumpRoutes(t *routeTable) dumpTable {
	if t == nil {
		return dumpTable{Routes: []dumpRoute{}}
	}
	dt := dumpTable{Name: t.name, Routes: make([]dumpRoute, 0, len(t.routes))}
	for _, r := range t.routes {
		dr := dumpRoute{Topic: r.topic.String(), Cluster: r.cluster}
		for i := range r.headers {
			dr.Headers = append(dr.Headers, r.headers[i].String())
		}
		if len(r.subset.GetFields()) > 0 {
			dr.Subset = subsetText(r.subset)
		}
		switch {
		case r.set == nil:
			dr.Error = "unknown cluster"
		case r.set.cluster.nameservers:
			dr.QueueCounts = "nameserver"
		case r.queues != nil:
			dr.QueueCounts = "route " + wellknown.TopicQueuesKey
		default:
			dr.QueueCounts = "endpoint metadata"
		}
		if r.set != nil {
			if r.set.err != nil {
				dr.Error = r.set.err.Msg
			}
			dr.Fallback = r.set.fallback
			dr.WriteShares = r.WriteShares()
		}
		dt.Routes = append(dt.Routes, dr)
	}
	return dt
}
