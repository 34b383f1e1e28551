package otel_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
)

// TestBrokerAddressResolver: behind a relay, clients see virtual endpoints in
// offset message ids and store hosts; the resolver gives the spans and metrics
// the real broker instead, whichever form the address came in, and leaves
// addresses it does not know alone.
func TestBrokerAddressResolver(t *testing.T) {
	virtual := netip.MustParseAddrPort("127.0.0.1:10911") // what okResult and newMessageExt carry
	var asked []netip.AddrPort
	r := newRecorder(t, rmqotel.WithBrokerAddressResolver(func(seen netip.AddrPort) (string, bool) {
		asked = append(asked, seen)
		if seen == virtual {
			return "10.1.2.3:30911", true
		}
		return "", false
	}))
	p := r.tel.WrapProducer(&fakeProducer{result: okResult(1)}, rmqotel.ClientInfo{})
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("orders", nil)); err != nil {
		t.Fatal(err)
	}
	fc := &fakePushConsumer{}
	c := r.tel.WrapPushConsumer(fc, rmqotel.ClientInfo{Group: "billing"})
	if err := c.Subscribe("orders", consumer.MessageSelector{}, func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		return consumer.ConsumeSuccess, nil
	}); err != nil {
		t.Fatal(err)
	}
	unknown := newMessageExt("orders", "m2", nil)
	unknown.StoreHost = "127.0.0.1:20911"
	if _, err := fc.deliver("orders", newMessageExt("orders", "m1", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.deliver("orders", unknown); err != nil {
		t.Fatal(err)
	}
	real := []attribute.KeyValue{semconv.ServerAddress("10.1.2.3"), semconv.ServerPort(30911)}
	checkAttrs(t, r.waitEnded(t, "send orders", 1)[0], real...)
	processes := r.waitEnded(t, "process orders", 2)
	checkAttrs(t, processes[0], real...)
	checkAttrs(t, processes[1], semconv.ServerAddress("127.0.0.1"), semconv.ServerPort(20911))
	if n := sum(t, r.metrics(t), "messaging.client.sent.messages", semconv.ServerAddress("10.1.2.3")); n != 1 {
		t.Errorf("sent messages counted for the real broker: %d, want 1", n)
	}
	if len(asked) != 3 {
		t.Errorf("resolver asked %v, want once per send or delivery", asked)
	}
}
