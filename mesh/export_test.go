package mesh

import "github.com/rmqmesh/rmqmesh/transport"

// RelayRouter returns the router the mesh's relay asks per request, for the
// benchmark and the allocation test of the routing decision.
func (m *Mesh) RelayRouter() transport.Router { return m.router }
