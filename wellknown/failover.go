package wellknown

import (
	"fmt"
	"math"
	"sort"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// SendFailoverKey, a struct on a cluster under [MeshMetadataNamespace],
// tunes how the intercepting relay retries a send inside the client's
// request when the broker it went to cannot store it (connection refused or
// reset, no answer within the per-try timeout, or an answer that means "not
// stored"). Every field is optional:
//
//	metadata:
//	  filter_metadata:
//	    rmqmesh:
//	      send_failover:
//	        enabled: true            # default true
//	        max_attempts: 3          # tries in all, the first included; >= 1
//	        per_try_timeout: 1s      # how long one try may stay unanswered; > 0
//	        timeout: 2.5s            # the client's answer comes by then; > 0
//	        move_keyed_sends: false  # may a send with a sharding key change broker?
//
// Durations are Go duration strings ("800ms", "1.5s"), a superset of the
// protobuf JSON form. Sends with a sharding key (ordered messages) are
// retried on their own broker only, unless move_keyed_sends is true: moving
// one to another broker breaks the order of its key for as long as the move
// lasts. See [ParseSendFailover].
const SendFailoverKey = "send_failover"

// Fields of [SendFailoverKey].
const (
	FailoverEnabledKey        = "enabled"
	FailoverMaxAttemptsKey    = "max_attempts"
	FailoverPerTryTimeoutKey  = "per_try_timeout"
	FailoverTimeoutKey        = "timeout"
	FailoverMoveKeyedSendsKey = "move_keyed_sends"
)

// Defaults of [SendFailoverKey]. The official Go client waits 3 s for a send's
// answer (rocketmq-client-go v2.1.2 hard-codes it for SendSync): the relay
// answers by DefaultFailoverTimeout at the latest, no try starting after it and
// a running one cut short at it, so the client reads an answer it can retry on
// rather than timing out. Refused and reset connections fail at once, so a
// dead broker costs a send far less than that.
const (
	DefaultFailoverMaxAttempts   = 3
	DefaultFailoverPerTryTimeout = time.Second
	DefaultFailoverTimeout       = 2500 * time.Millisecond
	// MaxFailoverAttempts bounds max_attempts: more tries than brokers buy
	// nothing but load on a struggling cluster.
	MaxFailoverAttempts = 10
)

// SendFailover is a cluster's [SendFailoverKey], defaults applied.
type SendFailover struct {
	Enabled        bool
	MaxAttempts    int
	PerTryTimeout  time.Duration
	Timeout        time.Duration
	MoveKeyedSends bool
}

// DefaultSendFailover is the policy of a cluster without [SendFailoverKey].
func DefaultSendFailover() SendFailover {
	return SendFailover{
		Enabled:       true,
		MaxAttempts:   DefaultFailoverMaxAttempts,
		PerTryTimeout: DefaultFailoverPerTryTimeout,
		Timeout:       DefaultFailoverTimeout,
	}
}

// ParseSendFailover returns a cluster's send failover policy, defaults
// applied to what [SendFailoverKey] leaves out. A malformed or impossible
// value (zero attempts, a negative timeout, an unknown field) is an error
// naming the field and the value, without a package prefix, for the caller's
// own message; it is the only check of the knob, so the xDS client's NACK and
// the relay's policy say the same.
func ParseSendFailover(md *corev3.Metadata) (SendFailover, error) {
	out := DefaultSendFailover()
	v, ok := md.GetFilterMetadata()[MeshMetadataNamespace].GetFields()[SendFailoverKey]
	if !ok {
		return out, nil
	}
	field := fmt.Sprintf("filter_metadata[%q][%q]", MeshMetadataNamespace, SendFailoverKey)
	s, isStruct := v.GetKind().(*structpb.Value_StructValue)
	if !isStruct {
		return out, fmt.Errorf("%s must be a struct, not %s", field, valueText(v))
	}
	fields := s.StructValue.GetFields()
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first error is the same on every run
	for _, k := range keys {
		fv := fields[k]
		where := fmt.Sprintf("%s[%q]", field, k)
		var err error
		switch k {
		case FailoverEnabledKey:
			out.Enabled, err = boolField(where, fv)
		case FailoverMoveKeyedSendsKey:
			out.MoveKeyedSends, err = boolField(where, fv)
		case FailoverMaxAttemptsKey:
			n, isNum := fv.GetKind().(*structpb.Value_NumberValue)
			if !isNum || n.NumberValue != math.Trunc(n.NumberValue) || n.NumberValue < 1 || n.NumberValue > MaxFailoverAttempts {
				return out, fmt.Errorf("%s must be an integer in [1, %d] (tries in all, the first included), not %s", where, MaxFailoverAttempts, valueText(fv))
			}
			out.MaxAttempts = int(n.NumberValue)
		case FailoverPerTryTimeoutKey:
			out.PerTryTimeout, err = durationField(where, fv)
		case FailoverTimeoutKey:
			out.Timeout, err = durationField(where, fv)
		default:
			return out, fmt.Errorf("%s: unknown field (want %q, %q, %q, %q or %q)", where,
				FailoverEnabledKey, FailoverMaxAttemptsKey, FailoverPerTryTimeoutKey, FailoverTimeoutKey, FailoverMoveKeyedSendsKey)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func boolField(where string, v *structpb.Value) (bool, error) {
	b, ok := v.GetKind().(*structpb.Value_BoolValue)
	if !ok {
		return false, fmt.Errorf("%s must be true or false, not %s", where, valueText(v))
	}
	return b.BoolValue, nil
}

// durationField reads a positive duration string.
func durationField(where string, v *structpb.Value) (time.Duration, error) {
	s, ok := v.GetKind().(*structpb.Value_StringValue)
	if !ok {
		return 0, fmt.Errorf("%s must be a duration string such as \"1s\", not %s", where, valueText(v))
	}
	d, err := time.ParseDuration(s.StringValue)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s must be a positive duration such as \"1s\", not %s", where, valueText(v))
	}
	return d, nil
}

// Value returns f as the [SendFailoverKey] struct a control plane writes into
// a cluster's metadata, every field set; [ParseSendFailover] reads it back as f.
func (f SendFailover) Value() *structpb.Value {
	return structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
		FailoverEnabledKey:        structpb.NewBoolValue(f.Enabled),
		FailoverMaxAttemptsKey:    structpb.NewNumberValue(float64(f.MaxAttempts)),
		FailoverPerTryTimeoutKey:  structpb.NewStringValue(f.PerTryTimeout.String()),
		FailoverTimeoutKey:        structpb.NewStringValue(f.Timeout.String()),
		FailoverMoveKeyedSendsKey: structpb.NewBoolValue(f.MoveKeyedSends),
	}})
}
