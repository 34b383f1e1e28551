package routing

import "sort"

// dumpView is the JSON shape of [Snapshot.Dump].
type dumpView struct {
	Listener    string               `json:"listener"`
	Versions    map[string]string    `json:"versions,omitempty"`
	Locality    *Locality            `json:"locality,omitempty"`
	RouteConfig dumpTable            `json:"route_config"`
	TopicRoutes map[string]dumpTable `json:"topic_routes,omitempty"`
	Clusters    []dumpCluster        `json:"clusters"`
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
	Error   string   `json:"error,omitempty"`
}

type dumpCluster struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// DataPath is the path in force; RequestedDataPath what the cluster's
	// knob asks for ("unset" without one). They differ where the process
	// does not run the relay.
	DataPath          DataPath       `json:"data_path"`
	RequestedDataPath DataPath       `json:"requested_data_path"`
	Error             string         `json:"error,omitempty"`
	Endpoints         []dumpEndpoint `json:"endpoints"`
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
	return v
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
		case r.set.err != nil:
			dr.Error = r.set.err.Msg
		}
		dt.Routes = append(dt.Routes, dr)
	}
	return dt
}
