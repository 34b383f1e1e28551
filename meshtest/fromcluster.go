package meshtest

// BrokerEndpoints describes every broker of the cluster — masters and replicas —
// as xDS endpoints carrying the RocketMQ metadata the mesh routes by: masters
// read-write (perm 6), replicas read-only (perm 4), and queues read and write
// queues each. Change the returned specs (weights, perms, subset keys, localities)
// before building resources with them.
func (c *Cluster) BrokerEndpoints(queues int) []EndpointSpec {
	var out []EndpointSpec
	for _, s := range c.sets {
		for _, b := range s.members {
			perm := 6
			if b.id != 0 {
				perm = 4
			}
			out = append(out, EndpointSpec{
				Address:     b.Addr(),
				BrokerName:  s.name,
				BrokerID:    int(b.id),
				ClusterName: c.opts.clusterName,
				Perm:        perm,
				ReadQueues:  queues,
				WriteQueues: queues,
			})
		}
	}
	return out
}

// NameServerEndpoints describes the cluster's nameserver as an xDS endpoint. A
// cluster of such endpoints makes the mesh forward route queries to it and rewrite
// the answers, instead of synthesizing routes from broker endpoints.
func (c *Cluster) NameServerEndpoints() []EndpointSpec {
	return []EndpointSpec{{Address: c.NameServerAddr()}}
}
