package otel_test

import (
	"context"
	"fmt"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
)

// A producer built without a mesh, wrapped by hand: every send gets a span and
// carries its context to consumers in the message's "traceparent" property,
// even a send that fails (this producer was never started).
func ExampleTelemetry_WrapProducer() {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	tel := rmqotel.New(rmqotel.WithTracerProvider(tp), rmqotel.WithPropagators(propagation.TraceContext{}))
	defer tel.Close()

	official, err := rocketmq.NewProducer(producer.WithNameServer([]string{"127.0.0.1:9876"}), producer.WithGroupName("orders"))
	if err != nil {
		fmt.Println(err)
		return
	}
	p := tel.WrapProducer(official, rmqotel.ClientInfo{Group: "orders"})

	msg := primitive.NewMessage("orders", []byte("hello"))
	_, err = p.SendSync(context.Background(), msg)
	fmt.Println(err)
	fmt.Println(len(msg.GetProperty("traceparent")))
	// Output:
	// producer not started
	// 55
}
