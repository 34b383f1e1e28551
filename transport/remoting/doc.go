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
// Headers written by Apache RocketMQ (Java, fastjson) and by the Go client differ in
// key order and in which keys are present; [HeaderStyle] selects which form an encoded
// header takes, and decoding records the form it saw so a relayed frame keeps it.
package remoting
