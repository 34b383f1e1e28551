// Package remoting is the RocketMQ remoting wire codec: frames, JSON and ROCKETMQ
// (binary) headers, request and response codes, typed request headers, topic route
// data, encoded messages and the JSON bodies the official client exchanges with
// nameservers and brokers.
//
// A frame on the wire is
//
//	int32 length                      // 4 + headerLen + bodyLen
//	int32 serializeType<<24 | headerLen
//	header                            // JSON or ROCKETMQ binary
//	body
//
// and decodes to a [Command]:
//
//	cmd, err := remoting.ReadCommand(conn, remoting.DefaultMaxFrameSize)
//	if err != nil { ... }              // typed: errors.Is(err, remoting.ErrFrameTooLarge), ...
//	hdr, err := remoting.DecodePullMessageRequestHeader(cmd.ExtFields)
//
// The package does no I/O beyond the [io.Reader] and [io.Writer] it is handed, keeps no
// state between calls, and never panics on malformed input: every decoder returns an
// error that names what was wrong and where. It does not know about connections,
// routing or xDS.
//
// Beyond frames and headers:
//
//   - typed headers, one per request code the official client uses: DecodeX(ext)
//     returns a struct whose Extra keeps unknown keys, and Encode() gives the map
//     back, e.g. [DecodeSendMessageRequestHeader] / [DecodeSendMessageV2];
//   - route bodies: [DecodeTopicRouteData] reads both fastjson's {0:"h:p"} and
//     standard keys, [TopicRouteData.Encode] writes the form [RouteKeyStyleFor]
//     picks, compact and with brokerAddrs always present, as the Go client needs;
//   - message lists (pull and transaction-check bodies): [DecodeMessages],
//     [AppendMessage], properties with [ParseProperties] / [FormatProperties],
//     offset message ids with [OffsetMsgID]; batch bodies with [DecodeBatch];
//   - JSON bodies (heartbeat, consumer list, lock/unlock) with [DecodeJSONBody].
//
// Headers written by Apache RocketMQ (Java, fastjson) and by the Go client differ in
// key order and in which keys are present; [HeaderStyle] selects which form an encoded
// header takes, and decoding records the form it saw so a relayed frame keeps it.
package remoting
