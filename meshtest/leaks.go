package meshtest

import "go.uber.org/goleak"

// OfficialClientGoroutines returns goleak options that ignore the goroutines the
// official RocketMQ Go client v2.1.2 leaves running after Shutdown (its remoting
// readers, timers, the process-wide client table and go-cache janitors), so a
// test's leak check sees only the goroutines of the code under test:
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
//	}
func OfficialClientGoroutines() []goleak.Option {
	fns := OfficialClientFunctions()
	opts := make([]goleak.Option, len(fns))
	for i, f := range fns {
		opts[i] = goleak.IgnoreAnyFunction(f)
	}
	return opts
}

// OfficialClientFunctions returns the functions, by their full names, whose
// goroutines [OfficialClientGoroutines] ignores: for tests that count
// goroutines themselves (a soak test telling the client's growth from the
// code under test's).
func OfficialClientFunctions() []string {
	const client = "github.com/apache/rocketmq-client-go/v2/"
	return []string{
		client + "internal/remote.(*remotingClient).receiveResponse",
		client + "internal/remote.(*remotingClient).connect.func1",
		client + "internal/remote.(*ResponseFuture).waitResponse",
		client + "primitive.WithRecover",
		client + "internal.(*rmqClient).Start.func1",
		client + "internal.(*rmqClient).Start.func1.1",
		client + "internal.(*rmqClient).RebalanceImmediately",
		client + "internal.(*rmqClient).RebalanceImmediately.func1",
		client + "internal.(*traceDispatcher).process",
		client + "internal/utils.(*Pool).monitor",
		client + "consumer.(*statsItemSet).init",
		client + "consumer.(*statsItemSet).init.func1",
		client + "consumer.(*statsItemSet).init.func2",
		client + "consumer.(*statsItemSet).init.func3",
		client + "consumer.(*statsItemSet).init.func4",
		client + "consumer.(*statsItemSet).init.func5",
		client + "consumer.(*statsItemSet).init.func6",
		client + "consumer.(*pushConsumer).pullMessage",
		client + "consumer.(*defaultPullConsumer).pullMessage",
		client + "consumer.(*pushConsumer).consumeMessageOrderly",
		client + "consumer.(*pushConsumer).consumeMessageConcurrently",
		client + "producer.(*transactionProducer).checkTransactionState",
		"github.com/patrickmn/go-cache.(*janitor).Run",
	}
}
