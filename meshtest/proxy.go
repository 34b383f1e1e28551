package meshtest

import "github.com/rmqmesh/rmqmesh/transport/remoting"

// remarkNoBrokerName is what a RocketMQ 5 proxy answers, with
// VERSION_NOT_SUPPORTED, to a remoting request without the broker name it
// routes by (AbstractRemotingActivity.request).
const remarkNoBrokerName = "Request doesn't have field bname"

// WithBrokerNameRequired makes the brokers answer like a RocketMQ 5 proxy in
// cluster mode: a request it forwards to a broker must name that broker in
// extFields "bname" ("n" for SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE), or it is
// answered with VERSION_NOT_SUPPORTED (15) and the remark "Request doesn't have
// field bname". Requests a proxy serves itself (heartbeat, unregister,
// end-transaction, consumer list, locks) need no name. rocketmq-client-go
// v2.1.2 never sends the field.
func WithBrokerNameRequired() ClusterOption {
	return func(o *clusterOptions) { o.brokerNameRequired = true }
}

// checkBrokerName refuses a request without a broker name when the cluster
// plays a RocketMQ 5 proxy; it returns nil otherwise.
func (b *Broker) checkBrokerName(req *remoting.Command) *remoting.Command {
	if !b.c.opts.brokerNameRequired {
		return nil
	}
	field := "bname"
	switch req.Code {
	case remoting.CodeHeartBeat, remoting.CodeUnregisterClient, remoting.CodeCheckClientConfig,
		remoting.CodeEndTransaction, remoting.CodeGetConsumerListByGroup,
		remoting.CodeLockBatchMQ, remoting.CodeUnlockBatchMQ, remoting.CodeGetRouteInfoByTopic:
		return nil
	case remoting.CodeSendMessageV2, remoting.CodeSendBatchMessage:
		field = "n"
	}
	if _, ok := req.ExtFields[field]; ok {
		return nil
	}
	return remoting.NewResponse(req, remoting.VersionNotSupported, remarkNoBrokerName)
}
