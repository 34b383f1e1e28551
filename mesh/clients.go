package mesh

import (
	"context"
	"fmt"
	"reflect"
	"strconv"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/routing"
)

// NewProducer builds an official producer whose routes come from the mesh. The
// caller's options are kept; the mesh adds its nameserver resolver, a unique instance
// name and a QueueSelector that narrows the queues to what routing allows before
// delegating to the caller's selector (or the client's default round robin).
func (m *Mesh) NewProducer(opts ...producer.Option) (rocketmq.Producer, error) {
	all := m.producerOptions(opts)
	p, err := rocketmq.NewProducer(all...)
	if err != nil {
		return nil, fmt.Errorf("mesh: new producer: %w", err)
	}
	return m.instrumentProducer(&meshProducer{Producer: p, m: m}, all), nil
}

// NewTransactionProducer builds an official transaction producer; see
// [Mesh.NewProducer].
func (m *Mesh) NewTransactionProducer(l primitive.TransactionListener, opts ...producer.Option) (rocketmq.TransactionProducer, error) {
	all := m.producerOptions(opts)
	p, err := rocketmq.NewTransactionProducer(l, all...)
	if err != nil {
		return nil, fmt.Errorf("mesh: new transaction producer: %w", err)
	}
	return m.instrumentTransactionProducer(&meshTransactionProducer{TransactionProducer: p, m: m}, all), nil
}

// NewPushConsumer builds an official push consumer whose routes come from the mesh.
// The caller's options are kept; the mesh adds its nameserver resolver, a unique
// instance name and an AllocateStrategy that leaves out brokers routing does not let
// this consumer read before delegating to the caller's strategy (or the client's
// default, averagely).
func (m *Mesh) NewPushConsumer(opts ...consumer.Option) (rocketmq.PushConsumer, error) {
	all := m.consumerOptions(opts)
	c, err := rocketmq.NewPushConsumer(all...)
	if err != nil {
		return nil, fmt.Errorf("mesh: new push consumer: %w", err)
	}
	return m.instrumentPushConsumer(c, all), nil
}

// NewPullConsumer builds an official pull consumer; see [Mesh.NewPushConsumer].
func (m *Mesh) NewPullConsumer(opts ...consumer.Option) (rocketmq.PullConsumer, error) {
	all := m.consumerOptions(opts)
	c, err := rocketmq.NewPullConsumer(all...)
	if err != nil {
		return nil, fmt.Errorf("mesh: new pull consumer: %w", err)
	}
	return m.instrumentPullConsumer(c, all), nil
}

// ProducerOptions returns the options the mesh adds to a producer, for applications
// that construct clients themselves. Append them after your own. They include a
// QueueSelector wrapping the client's default; to keep your own selector, wrap it
// with [Mesh.QueueSelector] and pass that instead.
func (m *Mesh) ProducerOptions() []producer.Option {
	return m.producerOptions(nil)
}

// ConsumerOptions returns the options the mesh adds to a consumer; see
// [Mesh.ProducerOptions] and [Mesh.AllocateStrategy].
func (m *Mesh) ConsumerOptions() []consumer.Option {
	return m.consumerOptions(nil)
}

func (m *Mesh) resolver() primitive.NsResolver {
	return primitive.NewPassthroughResolver([]string{m.ns.Addr()})
}

func (m *Mesh) producerOptions(user []producer.Option) []producer.Option {
	var next producer.QueueSelector
	if s, ok := optionField(user, "Selector").(producer.QueueSelector); ok && s != nil {
		next = s
	}
	out := make([]producer.Option, 0, len(user)+4)
	out = append(out, user...)
	if clientCredentials(m, user).IsEmpty() && !m.credentials.IsEmpty() {
		out = append(out, producer.WithCredentials(m.credentials))
	}
	return append(out,
		producer.WithNsResolver(m.resolver()),
		producer.WithInstanceName(m.instanceName(optionString(user, "InstanceName"))),
		producer.WithQueueSelector(m.QueueSelector(next)),
	)
}

func (m *Mesh) consumerOptions(user []consumer.Option) []consumer.Option {
	var next consumer.AllocateStrategy
	if s, ok := optionField(user, "Strategy").(consumer.AllocateStrategy); ok && s != nil {
		next = s
	}
	out := make([]consumer.Option, 0, len(user)+4)
	out = append(out, user...)
	if clientCredentials(m, user).IsEmpty() && !m.credentials.IsEmpty() {
		out = append(out, consumer.WithCredentials(m.credentials))
	}
	return append(out,
		consumer.WithNsResolver(m.resolver()),
		consumer.WithInstance(m.instanceName(optionString(user, "InstanceName"))),
		consumer.WithStrategy(m.AllocateStrategy(next)),
	)
}

// optionField applies the official client's functional options to a zero options
// struct and reads one exported field back. The options structs are unexported, but
// their fields are not: this is how the mesh finds the caller's QueueSelector or
// AllocateStrategy so it can delegate to it instead of replacing it. An option that
// panics on a zero struct is skipped.
func optionField[O any](opts []O, field string) any {
	if len(opts) == 0 {
		return nil
	}
	fnType := reflect.TypeOf(opts[0])
	if fnType.Kind() != reflect.Func || fnType.NumIn() != 1 || fnType.In(0).Kind() != reflect.Pointer {
		return nil
	}
	target := reflect.New(fnType.In(0).Elem())
	for _, o := range opts {
		v := reflect.ValueOf(o)
		if v.IsNil() {
			continue
		}
		func() {
			defer func() { _ = recover() }()
			v.Call([]reflect.Value{target})
		}()
	}
	f := target.Elem().FieldByName(field)
	if !f.IsValid() || !f.CanInterface() {
		return nil
	}
	if (f.Kind() == reflect.Interface || f.Kind() == reflect.Func) && f.IsNil() {
		return nil
	}
	return f.Interface()
}

func optionString[O any](opts []O, field string) string {
	s, _ := optionField(opts, field).(string)
	return s
}

// meshProducer adds routing context to the official producer's errors: when a send
// fails because no route exists, the client only says "route info not found", while
// the mesh knows which listener, route or cluster is missing.
type meshProducer struct {
	rocketmq.Producer
	m *Mesh
}

func (p *meshProducer) SendSync(ctx context.Context, msgs ...*primitive.Message) (*primitive.SendResult, error) {
	if err := p.m.awaitFirstConfig(ctx, msgs); err != nil {
		return nil, err
	}
	r, err := p.Producer.SendSync(ctx, msgs...)
	return r, p.m.explainSendError(msgs, err)
}

func (p *meshProducer) SendAsync(ctx context.Context, f func(context.Context, *primitive.SendResult, error), msgs ...*primitive.Message) error {
	if err := p.m.awaitFirstConfig(ctx, msgs); err != nil {
		return err
	}
	return p.m.explainSendError(msgs, p.Producer.SendAsync(ctx, f, msgs...))
}

func (p *meshProducer) SendOneWay(ctx context.Context, msgs ...*primitive.Message) error {
	if err := p.m.awaitFirstConfig(ctx, msgs); err != nil {
		return err
	}
	return p.m.explainSendError(msgs, p.Producer.SendOneWay(ctx, msgs...))
}

type meshTransactionProducer struct {
	rocketmq.TransactionProducer
	m *Mesh
}

func (p *meshTransactionProducer) SendMessageInTransaction(ctx context.Context, msg *primitive.Message) (*primitive.TransactionSendResult, error) {
	if err := p.m.awaitFirstConfig(ctx, []*primitive.Message{msg}); err != nil {
		return nil, err
	}
	r, err := p.TransactionProducer.SendMessageInTransaction(ctx, msg)
	return r, p.m.explainSendError([]*primitive.Message{msg}, err)
}

// awaitFirstConfig holds a send while the mesh has never had a configuration.
// The official client would ask for the topic's route up to six times with
// deadlines of its own, ignoring ctx; here the send waits for the topic's
// configuration bounded by ctx and the route timeout (shared with the
// client's queries), and fails with the mesh's reason when none comes. Once
// the mesh has had a configuration it costs one atomic load, and a later
// outage is left to the client, which keeps the routes it has.
func (m *Mesh) awaitFirstConfig(ctx context.Context, msgs []*primitive.Message) error {
	if m.configured.Load() || len(msgs) == 0 || msgs[0] == nil {
		return nil
	}
	topic := msgs[0].Topic
	m.awaitConfig(ctx, topic, true, 0)
	if m.table.Load() != nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mesh: topic %q: %w before the configuration of listener %q arrived (waiting for %s)", topic, err, m.listener, m.watch.pendingNames())
	}
	return m.noSnapshotError(topic)
}

// explainSendError wraps a failed send's error with the routing error for its
// topic, when routing has one; otherwise it returns err unchanged.
func (m *Mesh) explainSendError(msgs []*primitive.Message, err error) error {
	if err == nil || len(msgs) == 0 || msgs[0] == nil {
		return err
	}
	topic := msgs[0].Topic
	snap := m.table.Load()
	if snap == nil {
		return fmt.Errorf("%w (client: %v)", m.noSnapshotError(topic), err)
	}
	if src, serr := snap.RouteSource(topic); serr == nil && src.Kind == routing.SourceNameserver {
		// The route came from (or failed at) the nameservers: only the last
		// forwarded query can explain it; synthesizing one from the nameserver
		// cluster would blame it for holding no brokers.
		if ferr, ok := m.forwardErrs.Load(topic); ok {
			return fmt.Errorf("%w (client: %v)", ferr.(error), err)
		}
		return err
	}
	if _, rerr := snap.TopicRoute(topic, routing.RouteDataOptions{}); rerr != nil {
		return fmt.Errorf("%w (client: %v)", rerr, err)
	}
	return err
}

// instanceName returns the instance name for one client of this mesh: unique per
// client, or, when the caller named an instance, that name scoped to this mesh, so
// clients that share an instance on purpose keep sharing the official client's
// internal client without sharing it with another mesh.
func (m *Mesh) instanceName(requested string) string {
	if requested != "" && requested != "DEFAULT" {
		return m.prefix + "-" + m.meshID + "-" + requested
	}
	return m.prefix + "-" + m.meshID + "-" + strconv.FormatUint(m.clientSeq.Add(1), 10)
}
