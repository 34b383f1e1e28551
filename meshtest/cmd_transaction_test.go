package meshtest

import (
	"context"
	"sync"
	"testing"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// Tests of transactions (cmd_transaction.go: half messages, 37 END_TRANSACTION
// and the broker's 39 CHECK_TRANSACTION_STATE) with the official client.

type txListener struct {
	mu      sync.Mutex
	execute primitive.LocalTransactionState
	check   primitive.LocalTransactionState
	checks  int
}

func (l *txListener) ExecuteLocalTransaction(*primitive.Message) primitive.LocalTransactionState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.execute
}

func (l *txListener) CheckLocalTransaction(*primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checks++
	return l.check
}

func newTxProducer(t *testing.T, c *Cluster, l *txListener) rocketmq.TransactionProducer {
	t.Helper()
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNameServer([]string{c.NameServerAddr()}),
		producer.WithGroupName(name("txg")),
		producer.WithInstanceName(name("txi")),
		producer.WithRetry(0),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

func TestCluster_TransactionCommitRollbackCheck(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	b := c.Broker("broker-a")

	commit := newTxProducer(t, c, &txListener{execute: primitive.CommitMessageState})
	if _, err := commit.SendMessageInTransaction(context.Background(), primitive.NewMessage("TopicTest", []byte("commit"))); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "commit visible", func() bool { return len(c.Messages("TopicTest")) == 1 })
	m := c.Messages("TopicTest")[0]
	if m.SysFlag&8 == 0 || m.PreparedTransactionOffset == 0 && m.Properties["REAL_TOPIC"] != "TopicTest" {
		t.Errorf("committed message %+v", m)
	}

	rollback := newTxProducer(t, c, &txListener{execute: primitive.RollbackMessageState})
	if _, err := rollback.SendMessageInTransaction(context.Background(), primitive.NewMessage("TopicTest", []byte("rollback"))); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "rollback processed", func() bool { return b.RequestCount(37) >= 2 })

	l := &txListener{execute: primitive.UnknowState, check: primitive.CommitMessageState}
	checked := newTxProducer(t, c, l)
	if _, err := checked.SendMessageInTransaction(context.Background(), primitive.NewMessage("TopicTest", []byte("checked"))); err != nil {
		t.Fatal(err)
	}
	c.FastForward(transactionTimeout)
	WaitFor(t, "check-back commit", func() bool { return len(c.Messages("TopicTest")) == 2 })
	c.CheckBodies(t, "TopicTest", "commit", "checked")
	if l.checks == 0 {
		t.Errorf("listener was never asked to check")
	}
	if len(b.HalfMessages()) != 0 {
		t.Errorf("unresolved half messages left: %+v", b.HalfMessages())
	}
}
