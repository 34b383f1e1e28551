package remoting_test

import (
	"fmt"
	"net/netip"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// A route synthesized for the Go client: the answer to its request (version 317)
// uses fastjson's unquoted brokerIds, and IPv6 hosts are bracketed.
func ExampleTopicRouteData_Encode() {
	req := remoting.NewRequest(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "orders"}, nil)
	route := &remoting.TopicRouteData{
		QueueDatas: []remoting.QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: remoting.PermRead | remoting.PermWrite}},
		BrokerDatas: []remoting.BrokerData{{Cluster: "mesh", BrokerName: "broker-a", BrokerAddrs: map[int64]string{
			1: "10.0.0.2:10911",
			0: "::1:10911",
		}}},
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = route.Encode(remoting.RouteKeyStyleFor(req))
	fmt.Println(string(resp.Body))
	// Output:
	// {"brokerDatas":[{"brokerAddrs":{0:"[::1]:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"mesh"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}
}

// Messages of a PULL_MESSAGE FOUND body, with their offset message ids.
func ExampleDecodeMessages() {
	body := remoting.AppendMessage(nil, &remoting.Message{
		QueueID:         1,
		CommitLogOffset: 199,
		StoreHost:       netip.MustParseAddrPort("127.0.0.1:22911"),
		Body:            []byte("hello"),
		Topic:           "TopicTest",
		Properties:      remoting.FormatProperties(map[string]string{remoting.PropertyTags: "TagA"}),
	})
	msgs, err := remoting.DecodeMessages(body)
	if err != nil {
		panic(err)
	}
	for _, m := range msgs {
		fmt.Println(m.Topic, m.QueueID, string(m.Body), m.Property(remoting.PropertyTags), m.OffsetMsgID())
	}
	// Output:
	// TopicTest 1 hello TagA 7F0000010000597F00000000000000C7
}
