package routing

import (
	"errors"
	"strings"
)

// Kind classifies the errors returned by this package so that callers can
// branch on the cause (for example to pick a RocketMQ response code) without
// parsing messages. Use [KindOf] to get the kind of any error.
type Kind int

const (
	// KindUnknown is the kind of nil errors and of errors not produced by this
	// package.
	KindUnknown Kind = iota
	// KindNoSnapshot means a query ran on a nil [*Snapshot] (nothing received
	// from the control plane yet).
	KindNoSnapshot
	// KindInvalidConfig means [NewSnapshot] rejected a resource (for example a
	// regular expression that does not compile). The snapshot is not built.
	KindInvalidConfig
	// KindNoRoute means no route matched the topic and request code.
	KindNoRoute
	// KindUnknownCluster means the matched route names a cluster that is not
	// in the snapshot.
	KindUnknownCluster
	// KindInvalidCluster means the routed cluster exists but its endpoints or
	// knobs are malformed (for example a non-numeric "broker_id"); the cause
	// is in the message.
	KindInvalidCluster
	// KindNoEndpoint means the routed cluster has no endpoints at all, or none
	// in the route's subset.
	KindNoEndpoint
	// KindNoHealthyEndpoint means the routed cluster (subset) has endpoints but
	// none of them is HEALTHY, UNKNOWN or DEGRADED.
	KindNoHealthyEndpoint
	// KindNoWritableBroker means no healthy master with write permission is in
	// the write route's subset.
	KindNoWritableBroker
	// KindNoReadableBroker means no healthy broker with read permission is in
	// the read route's subset.
	KindNoReadableBroker
	// KindNoUsableBroker means a topic route would list no broker at all:
	// nothing can be written and nothing can be read.
	KindNoUsableBroker
	// KindWrongClusterType means a route leads to a nameserver cluster where
	// brokers are needed, or to a broker cluster where nameservers are needed.
	KindWrongClusterType
)

var kindNames = [...]string{
	KindUnknown:           "Unknown",
	KindNoSnapshot:        "NoSnapshot",
	KindInvalidConfig:     "InvalidConfig",
	KindNoRoute:           "NoRoute",
	KindUnknownCluster:    "UnknownCluster",
	KindInvalidCluster:    "InvalidCluster",
	KindNoEndpoint:        "NoEndpoint",
	KindNoHealthyEndpoint: "NoHealthyEndpoint",
	KindNoWritableBroker:  "NoWritableBroker",
	KindNoReadableBroker:  "NoReadableBroker",
	KindNoUsableBroker:    "NoUsableBroker",
	KindWrongClusterType:  "WrongClusterType",
}

// String returns the kind's name, e.g. "NoRoute".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + itoa(int64(k)) + ")"
}

// Error is the error type returned by this package. Its message is complete
// and lowercase, starting with "routing: "; the fields let callers build
// their own remarks.
type Error struct {
	// Kind classifies the error.
	Kind Kind
	// Topic is the topic of the query, empty for build errors.
	Topic string
	// Cluster is the xDS cluster involved, if any.
	Cluster string
	// Msg is the complete message returned by Error.
	Msg string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first [*Error] in err's chain, or
// [KindUnknown] if there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// topicErr builds a query error. The message reads
// `routing: topic "t": <detail>`.
func topicErr(kind Kind, topic, cluster, detail string, cause error) *Error {
	var b strings.Builder
	b.WriteString("routing: topic ")
	b.WriteString(quote(topic))
	b.WriteString(": ")
	b.WriteString(detail)
	return &Error{Kind: kind, Topic: topic, Cluster: cluster, Msg: b.String(), Err: cause}
}
