package mesh

import (
	"context"
	"fmt"
	"sort"

	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

var _ transport.ClusterInfoProvider = (*Mesh)(nil)

// ClusterInfo answers GET_BROKER_CLUSTER_INFO (106), which admin tools send, with
// the brokers this mesh's routes lead to: the cluster as the application sees it
// through the mesh, not every broker the control plane knows.
//
// A listener that routes to some clusters that are missing still answers with
// the brokers of the others.
func (m *Mesh) ClusterInfo(ctx context.Context) (*remoting.ClusterInfo, error) {
	m.awaitConfig(ctx, "", false, m.answerReserve(ctx))
	snap := m.table.Load()
	if snap == nil {
		if lerr := m.watch.listenerError(); lerr != nil {
			return nil, fmt.Errorf("mesh: cluster info: listener %q unavailable: %w", m.listener, lerr)
		}
		return nil, fmt.Errorf("mesh: cluster info: no configuration for listener %q yet (waiting for %s)", m.listener, m.watch.pendingNames())
	}
	info := &remoting.ClusterInfo{
		BrokerAddrTable:  map[string]remoting.BrokerData{},
		ClusterAddrTable: map[string][]string{},
	}
	opts, endpointErr := m.virtualAddresses(nil)
	brokers := snap.RoutedBrokers(opts)
	if err := endpointErr(); err != nil {
		return nil, err
	}
	for _, b := range brokers {
		info.BrokerAddrTable[b.BrokerName] = b
		info.ClusterAddrTable[b.Cluster] = append(info.ClusterAddrTable[b.Cluster], b.BrokerName)
	}
	for _, names := range info.ClusterAddrTable {
		sort.Strings(names)
	}
	return info, nil
}
