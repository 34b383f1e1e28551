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
func (m *Mesh) ClusterInfo(ctx context.Context) (*remoting.ClusterInfo, error) {
	if err := m.WaitReady(ctx); err != nil {
		return nil, err
	}
	snap := m.table.Load()
	if snap == nil {
		return nil, fmt.Errorf("rmqmesh: cluster info: no configuration for listener %q", m.listener)
	}
	info := &remoting.ClusterInfo{
		BrokerAddrTable:  map[string]remoting.BrokerData{},
		ClusterAddrTable: map[string][]string{},
	}
	opts, endpointErr := m.virtualAddresses(false)
	brokers := snap.RoutedBrokers(opts)
	if err := endpointErr(); err != nil {
		return nil, err
	}
	for _, b := range brokers {
		info.BrokerAddrTable[b.BrokerName] = remoting.BrokerData{Cluster: b.Cluster, BrokerName: b.BrokerName, BrokerAddrs: b.BrokerAddrs}
		info.ClusterAddrTable[b.Cluster] = append(info.ClusterAddrTable[b.Cluster], b.BrokerName)
	}
	for _, names := range info.ClusterAddrTable {
		sort.Strings(names)
	}
	return info, nil
}
