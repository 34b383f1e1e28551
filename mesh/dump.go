package mesh

import (
	"encoding/json"
	"fmt"

	"github.com/rmqmesh/rmqmesh/transport"
)

// ConfigDump returns the xDS resources in force, with their versions and status,
// and the route table built from them, as indented JSON — what gRPC's CSDS shows,
// for an admin endpoint or a support bundle.
func (m *Mesh) ConfigDump() ([]byte, error) {
	dump := struct {
		Target     string            `json:"target"`
		Listener   string            `json:"listener"`
		NameServer string            `json:"nameServerEndpoint"`
		DataPath   string            `json:"defaultDataPath"`
		Relay      map[string]string `json:"relayEndpoints,omitempty"`
		Pending    string            `json:"pending"`
		HeldTopics []string          `json:"onDemandTopics"`
		BuildError string            `json:"lastBuildError,omitempty"`
		Resources  any               `json:"resources"`
		RouteTable any               `json:"routeTable"`

		// RelayClusters is the relay's runtime state per cluster: limits and
		// failover in force, counters, and each host's outlier state.
		RelayClusters []transport.ClusterStatus `json:"relayClusters,omitempty"`
		// KeptCommits counts offset commits a replica took while its master
		// was away, waiting to be delivered to the master.
		KeptCommits int `json:"keptOffsetCommits,omitempty"`
	}{
		Target:     m.target,
		Listener:   m.listener,
		NameServer: m.ns.Addr(),
		DataPath:   m.dataPath.String(),
		Relay:      m.relayEndpoints(),
		Pending:    m.watch.pendingNames(),
		HeldTopics: m.watch.heldTopics(),
		Resources:  m.xds.Dump(),
	}
	if m.relay != nil {
		dump.RelayClusters = m.relay.Clusters()
		dump.KeptCommits = m.relay.KeptCommits()
	}
	if err := m.watch.buildError(); err != nil {
		dump.BuildError = err.Error()
	}
	if snap := m.table.Load(); snap != nil {
		dump.RouteTable = snap.Dump()
	}
	b, err := json.MarshalIndent(dump, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("mesh: config dump: %w", err)
	}
	return b, nil
}
