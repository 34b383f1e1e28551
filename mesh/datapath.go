package mesh

import (
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport"
)

// WithDataPath chooses how clients reach brokers. The default,
// [routing.DataPathIntercept], relays every broker RPC through the mesh's
// in-process relay; a cluster's filter_metadata["rmqmesh"]["data_path"] =
// "direct" still hands that cluster's real broker addresses to the client.
// [routing.DataPathDirect] makes every cluster direct, whatever its metadata, and
// starts no relay.
func WithDataPath(dp routing.DataPath) Option {
	return optionFunc(func(c *config) { c.dataPath, c.dataPathSet = dp, true })
}

// WithCredentials sets the RocketMQ ACL credentials of the clients the mesh
// builds (when the caller passes none of its own) and lets the relay sign again
// the requests it changes (an added bname, a redirected send's queueId).
// Credentials a caller passes to NewProducer or a consumer constructor with the
// official WithCredentials are given to the relay too.
func WithCredentials(c primitive.Credentials) Option {
	return optionFunc(func(cfg *config) { cfg.credentials = c })
}

// WithRelayOptions passes options to the relay of the intercept data path (for
// example [transport.WithUpstreamSource], [transport.WithDrainTimeout]). The
// mesh's logger comes first, so an option here can replace it; interceptors
// given with [transport.WithInterceptors] run inside the mesh's tracing link.
func WithRelayOptions(opts ...transport.Option) Option {
	return optionFunc(func(c *config) { c.relayOpts = append(c.relayOpts, opts...) })
}

// startRelay starts the relay unless every cluster is direct.
func (m *Mesh) startRelay(cfg *config) error {
	if m.dataPath == routing.DataPathDirect {
		return nil
	}
	opts := []transport.Option{transport.WithLogger(cfg.log), transport.WithInterceptors(m.relayInterceptors()...)}
	opts = append(opts, cfg.relayOpts...)
	r, err := transport.NewRelay(m.router, opts...)
	if err != nil {
		return err
	}
	m.relay = r
	m.addCredentials(cfg.credentials)
	return nil
}

// addCredentials lets the relay sign with c.
func (m *Mesh) addCredentials(c primitive.Credentials) {
	if m.relay == nil || c.IsEmpty() {
		return
	}
	if err := m.relay.AddCredentials(transport.Credentials{AccessKey: c.AccessKey, SecretKey: c.SecretKey, SecurityToken: c.SecurityToken}); err != nil {
		m.log.Warn("relay cannot sign with the given credentials", "err", err)
	}
}

// clientCredentials returns the credentials a caller passed in a client's
// options (the official WithCredentials), and gives them to the relay.
func clientCredentials[O any](m *Mesh, opts []O) primitive.Credentials {
	c, _ := optionField(opts, "Credentials").(primitive.Credentials)
	m.addCredentials(c)
	return c
}
