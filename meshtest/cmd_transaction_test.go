package meshtest

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
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
	// The check carries the re-appended copy as 4.9.8 sends it: REAL_TOPIC,
	// TRANSACTION_CHECK_TIMES and WAIT=false (golden frame
	// 39-check-transaction-state-request), transaction bits cleared.
	if sent := b.SentRequests(remoting.CodeCheckTransactionState); len(sent) == 0 {
		t.Error("no CHECK_TRANSACTION_STATE recorded")
	} else if msgs, err := remoting.DecodeMessages(sent[0].Body); err != nil || len(msgs) != 1 {
		t.Errorf("check body: %d messages, %v", len(msgs), err)
	} else {
		props := remoting.ParseProperties(msgs[0].Properties)
		if props["WAIT"] != "false" || props["TRANSACTION_CHECK_TIMES"] == "" || props["REAL_TOPIC"] != "TopicTest" || msgs[0].SysFlag != 0 {
			t.Errorf("check message sysFlag %d properties %v, want sysFlag 0, WAIT=false, TRANSACTION_CHECK_TIMES, REAL_TOPIC=TopicTest", msgs[0].SysFlag, props)
		}
	}
	if len(b.HalfMessages()) != 0 {
		t.Errorf("unresolved half messages left: %+v", b.HalfMessages())
	}
}

// TestBroker_EndTransactionRemarks checks the answers' remarks of 4.9.8's
// EndTransactionProcessor: a commit is answered by the final send (no remark);
// a rollback by checkPrepareMessage's response, created without a code, so
// with the default remark "not set any response code".
func TestBroker_EndTransactionRemarks(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 1))
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	half := func() (commitLogOffset, tableOffset string) {
		resp := rc.call(remoting.CodeSendMessage, map[string]string{"producerGroup": "txg", "topic": "TopicTest", "queueId": "0",
			"sysFlag": "4", "bornTimestamp": "1", "flag": "0", "properties": "TRAN_MSG\x01true\x02PGROUP\x01txg\x02"}, []byte("h"))
		if resp.Code != remoting.Success {
			t.Fatalf("half send: %d %q", resp.Code, resp.Remark)
		}
		_, off, err := remoting.DecodeOffsetMsgID(resp.Ext("msgId"))
		if err != nil {
			t.Fatalf("half msgId %q: %v", resp.Ext("msgId"), err)
		}
		return strconv.FormatInt(off, 10), resp.Ext("queueOffset")
	}
	for _, tc := range []struct {
		kind, remark string
	}{{"8", ""}, {"12", "not set any response code"}} {
		off, table := half()
		resp := rc.call(remoting.CodeEndTransaction, map[string]string{"producerGroup": "txg", "tranStateTableOffset": table,
			"commitLogOffset": off, "commitOrRollback": tc.kind, "fromTransactionCheck": "false", "msgId": "x"}, nil)
		if resp.Code != remoting.Success || resp.Remark != tc.remark {
			t.Errorf("commitOrRollback %s: code %d remark %q, want 0 %q", tc.kind, resp.Code, resp.Remark, tc.remark)
		}
	}
}
