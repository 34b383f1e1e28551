package mesh

import (
	"encoding/json"
	"fmt"
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
