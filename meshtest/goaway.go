package meshtest

import "github.com/rmqmesh/rmqmesh/transport/remoting"

// CodeGoAway is RocketMQ 5's GO_AWAY response code (ResponseCode.GO_AWAY):
// the server is shutting down and the client should use another connection.
const CodeGoAway int32 = 1500

// remarkGoAway is the remark a RocketMQ 5 server answers GO_AWAY with.
const remarkGoAway = "please go away"

// GoAway makes the broker answer every request from now on with GO_AWAY
// (1500, "please go away") without processing it, as a RocketMQ 5 proxy or
// broker that is shutting down does (NettyRemotingAbstract.processRequestCommand
// once isShuttingDown is set): requests already being served, suspended pulls
// included, complete; new ones are refused. The broker keeps its connections
// open. Restart and ClearErrors end it; Stop and Kill then shut it down as
// usual.
//
// Unlike a 5.3 server, which sends GO_AWAY only to clients of versions after
// 5.3.1, meshtest sends it to every request: it stands for whatever makes a
// server refuse work gracefully.
func (b *Broker) GoAway() { b.goingAway.Store(true) }

// goAwayAnswer is the broker's answer while it is going away, nil otherwise.
func (b *Broker) goAwayAnswer(req *remoting.Command) *remoting.Command {
	if !b.goingAway.Load() {
		return nil
	}
	return remoting.NewResponse(req, CodeGoAway, remarkGoAway)
}
