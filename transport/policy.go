package transport

import "time"

// ClusterPolicy is what a cluster's configuration asks of the relay: how long
// a connection attempt may take, how sends fail over, when hosts are ejected,
// and the limits of the cluster's traffic. The [Router] hands it out with
// every [Target] of the cluster (Target.Policy); the relay keeps the runtime
// state (counters, ejections) per cluster name and applies whichever policy
// the latest target carried. A nil policy means the defaults: failover on,
// no outlier detection, no limits.
//
// A ClusterPolicy is immutable once a router has handed it out: a change is a
// new value.
type ClusterPolicy struct {
	// Name is the cluster's name, for remarks, logs and dumps.
	Name string
	// ConnectTimeout bounds a connection attempt to the cluster's brokers;
	// zero means the relay's [WithDialTimeout].
	ConnectTimeout time.Duration
	// Failover says how a send is retried inside the client's request.
	Failover Failover
	// Outlier, when not nil, ejects hosts that keep failing.
	Outlier *OutlierDetection
	// Limits bound the cluster's traffic through this relay.
	Limits Limits
	// Hosts is the number of endpoints of the cluster, for
	// OutlierDetection.MaxEjectionPercent.
	Hosts int
}

// Failover tunes send failover: when a send's broker refuses or resets the
// connection, does not answer within PerTryTimeout, or answers with a code that
// means the message was not stored (see the package documentation), the relay
// sends it again to another writable broker of the topic, within the same
// client request. The zero value is the default policy.
type Failover struct {
	// Disabled turns send failover off: a failed try is answered with an
	// error the client may retry itself.
	Disabled bool
	// MaxAttempts bounds the tries of one send, the first included; zero
	// means [DefaultFailoverMaxAttempts].
	MaxAttempts int
	// PerTryTimeout is how long one try may stay unanswered before the next
	// starts; zero means [DefaultFailoverPerTryTimeout].
	PerTryTimeout time.Duration
	// Timeout bounds the whole send: no try starts after it, and the client
	// is answered by then; zero means [DefaultFailoverTimeout].
	Timeout time.Duration
	// MoveKeyedSends lets a send with a sharding key (an ordered message)
	// move to another broker. Without it such a send is retried on its own
	// broker only (a new connection, or the broker's new address), because a
	// move breaks the order of the key's messages for as long as it lasts.
	MoveKeyedSends bool
}

// Send failover defaults. rocketmq-client-go v2.1.2 waits 3 s for a send's
// answer: the relay answers well before.
const (
	DefaultFailoverMaxAttempts   = 3
	DefaultFailoverPerTryTimeout = time.Second
	DefaultFailoverTimeout       = 2500 * time.Millisecond
)

// resolved returns f with defaults in place of zero values.
func (f Failover) resolved() Failover {
	if f.MaxAttempts <= 0 {
		f.MaxAttempts = DefaultFailoverMaxAttempts
	}
	if f.PerTryTimeout <= 0 {
		f.PerTryTimeout = DefaultFailoverPerTryTimeout
	}
	if f.Timeout <= 0 {
		f.Timeout = DefaultFailoverTimeout
	}
	return f
}

// OutlierDetection is Envoy's consecutive-failure outlier detection, as the
// cluster's outlier_detection configures it (the caller applies Envoy's
// defaults; zero thresholds disable a rule). Outcomes map to Envoy's as
// follows: SYSTEM_BUSY and SERVICE_NOT_AVAILABLE answers are errors ("5xx")
// and gateway failures ("503"); SYSTEM_ERROR answers to sends are errors (a
// store failure; to other requests RocketMQ gives it for application
// conditions such as "no consumer for this group"); a refused or reset
// connection and an unanswered try are local-origin failures, counted as
// errors and gateway failures unless SplitExternalLocalOriginErrors; any other
// answer is a success.
type OutlierDetection struct {
	// Interval is how often an ejected host's ejection count decays by one
	// while it is not ejected.
	Interval time.Duration
	// BaseEjectionTime × the host's ejection count is how long an ejection
	// lasts, capped by max(MaxEjectionTime, BaseEjectionTime), plus up to
	// MaxEjectionTimeJitter.
	BaseEjectionTime      time.Duration
	MaxEjectionTime       time.Duration
	MaxEjectionTimeJitter time.Duration
	// MaxEjectionPercent bounds the share of the cluster's hosts ejected at
	// once; AlwaysEjectOneHost lets one host be ejected whatever it says.
	MaxEjectionPercent uint32
	AlwaysEjectOneHost bool
	// Consecutive5xx errors eject a host with probability
	// EnforcingConsecutive5xx percent.
	Consecutive5xx          uint32
	EnforcingConsecutive5xx uint32
	// ConsecutiveGatewayFailure gateway failures eject a host with
	// probability EnforcingConsecutiveGatewayFailure percent.
	ConsecutiveGatewayFailure          uint32
	EnforcingConsecutiveGatewayFailure uint32
	// SplitExternalLocalOriginErrors counts local-origin failures apart:
	// ConsecutiveLocalOriginFailure of them eject a host with probability
	// EnforcingConsecutiveLocalOriginFailure percent.
	SplitExternalLocalOriginErrors         bool
	ConsecutiveLocalOriginFailure          uint32
	EnforcingConsecutiveLocalOriginFailure uint32
}

// Limits bound one cluster's traffic through the relay, as the DEFAULT
// priority thresholds of Envoy's circuit_breakers; zero is no limit. A request
// over a limit is answered with SYSTEM_BUSY and a remark naming the cluster
// and the limit.
type Limits struct {
	// MaxConnections bounds the relay's connections to the cluster's brokers.
	MaxConnections int `json:"maxConnections,omitempty"`
	// MaxPendingRequests bounds the requests waiting for a connection to one
	// of the cluster's brokers (a connection attempt in progress).
	MaxPendingRequests int `json:"maxPendingRequests,omitempty"`
	// MaxRequests bounds the requests in flight to the cluster's brokers.
	MaxRequests int `json:"maxRequests,omitempty"`
	// MaxRetries bounds the sends being failed over at once.
	MaxRetries int `json:"maxRetries,omitempty"`
}
