package remoting

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// checkErr fails unless err wraps every sentinel in want and its message contains
// every string in mention.
func checkErr(t *testing.T, err error, want []error, mention ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("error %q does not wrap %q", err, w)
		}
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
	if !strings.HasPrefix(err.Error(), "remoting: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
}

func frameWith(st byte, header, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(st)<<24|uint32(len(header)))
	b = append(b, header...)
	return append(b, body...)
}

func TestDecodeFrame_Errors(t *testing.T) {
	golden := goldenByName(t, loadGolden(t), "105-getroute-response").raw
	negative := binary.BigEndian.AppendUint32(nil, 0xFFFFFFFF)
	badHeaderLen := frameWith(0, []byte(`{}`), nil)
	binary.BigEndian.PutUint32(badHeaderLen[4:], 200)
	tests := []struct {
		name    string
		frame   []byte
		want    []error
		mention []string
	}{
		{"empty", nil, []error{ErrTruncated}, []string{"no length field"}},
		{"truncated", golden[:len(golden)-1], []error{ErrTruncated}, []string{"frame length 530", "529 bytes follow"}},
		{"trailing", append(append([]byte{}, golden...), 0), []error{ErrBadLength}, []string{"531 bytes follow"}},
		{"negative length", append(negative, 0, 0, 0, 0), []error{ErrBadLength}, []string{"-1"}},
		{"length below minimum", []byte{0, 0, 0, 2, 0, 0}, []error{ErrBadLength}, []string{"frame length 2"}},
		{"header length beyond frame", badHeaderLen, []error{ErrBadLength}, []string{"header length 200"}},
		{"unknown serialize type", frameWith(2, []byte(`{}`), nil), []error{ErrUnknownSerializeType}, []string{"serialize type byte 2"}},
		{"garbage JSON", frameWith(0, []byte(`{"code":1,`), nil), []error{ErrBadHeader}, []string{"JSON header"}},
		{"JSON not an object", frameWith(0, []byte(`[1]`), nil), []error{ErrBadHeader}, []string{"not a JSON object"}},
		{"JSON code not int32", frameWith(0, []byte(`{"code":99999999999}`), nil), []error{ErrBadHeader}, []string{`"code"`, "99999999999"}},
		{"JSON trailing", frameWith(0, []byte(`{"code":1}x`), nil), []error{ErrBadHeader}, []string{"trailing"}},
		{"JSON extFields nested", frameWith(0, []byte(`{"extFields":{"a":{}}}`), nil), []error{ErrBadHeader}, []string{`"a"`}},
		{"JSON deep", frameWith(0, []byte(`{"x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`), nil), []error{ErrBadHeader}, []string{"nested deeper"}},
		{"ROCKETMQ truncated", frameWith(1, []byte{0, 105, 0, 1}, nil), []error{ErrTruncated}, []string{"version"}},
		{"ROCKETMQ negative remark", frameWith(1, []byte{0, 105, 0, 1, 0x99, 0, 0, 0, 1, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFE, 0, 0, 0, 0}, nil), []error{ErrBadLength}, []string{"remark length", "-2"}},
		{"ROCKETMQ unknown language", frameWith(1, []byte{0, 105, 99, 1, 0x99, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil), []error{ErrBadHeader}, []string{"language byte 99"}},
		{"ROCKETMQ ext overrun", frameWith(1, []byte{0, 105, 0, 1, 0x99, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 9, 'a'}, nil), []error{ErrTruncated}, []string{"extFields key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := DecodeFrame(tt.frame)
			if cmd != nil {
				t.Errorf("got a command with error %v", err)
			}
			checkErr(t, err, tt.want, tt.mention...)
		})
	}
}

func TestReadCommand_Errors(t *testing.T) {
	golden := goldenByName(t, loadGolden(t), "105-getroute-response").raw

	_, err := ReadCommand(bytes.NewReader(golden), 100)
	checkErr(t, err, []error{ErrFrameTooLarge}, "frame length 530", "maximum 100")

	_, err = ReadCommand(bytes.NewReader(golden[:300]), 0)
	checkErr(t, err, []error{ErrTruncated, io.ErrUnexpectedEOF}, "530-byte frame")

	_, err = ReadCommand(bytes.NewReader(golden[:2]), 0)
	checkErr(t, err, []error{ErrTruncated}, "frame length")

	_, err = ReadCommand(bytes.NewReader([]byte{0x80, 0, 0, 0}), 0)
	checkErr(t, err, []error{ErrBadLength}, "-2147483648")

	if _, err := ReadCommand(bytes.NewReader(nil), 0); err != io.EOF {
		t.Errorf("clean end of stream: got %v, want io.EOF", err)
	}

	// Two frames back to back read one at a time; the max applies per frame.
	stream := append(append([]byte{}, golden...), golden...)
	r := bytes.NewReader(stream)
	for i := range 2 {
		if _, err := ReadCommand(r, len(golden)-4); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
}

func TestEncodeFrame_Errors(t *testing.T) {
	tests := []struct {
		name    string
		cmd     *Command
		want    error
		mention string
	}{
		{"code beyond int16", &Command{Code: CodePopMessage, Language: "JAVA", SerializeType: SerializeRocketMQ}, ErrBadHeader, "200050"},
		{"unknown language", &Command{Code: 1, Language: "COBOL", SerializeType: SerializeRocketMQ}, ErrBadHeader, `"COBOL"`},
		{"unknown serialize type", &Command{Code: 1, SerializeType: 7}, ErrUnknownSerializeType, "7"},
		// Java reads the key length as a signed short.
		{"extFields key beyond int16", &Command{Code: 1, Language: "JAVA", SerializeType: SerializeRocketMQ,
			ExtFields: map[string]string{strings.Repeat("k", math.MaxInt16+1): "v"}}, ErrBadHeader, "32768 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, err := tt.cmd.AppendFrame(dst)
			checkErr(t, err, []error{tt.want}, tt.mention)
			if string(out) != "prefix" {
				t.Errorf("dst = %q after error, want it unchanged", out)
			}
		})
	}
}

func TestDecodeTopicRouteData_Errors(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		mention []string
	}{
		{"empty", ``, []string{"value missing"}},
		{"not an object", `[]`, []string{"top level", "array"}},
		{"truncated", `{"brokerDatas":[{"brokerAddrs":{0:"a:1"`, []string{"topic route data", "expected"}},
		{"bad brokerId", `{"brokerDatas":[{},{"brokerAddrs":{"x":"a:1"}}]}`, []string{`brokerDatas[1].brokerAddrs["x"]`, "not an integer"}},
		{"address not a string", `{"brokerDatas":[{"brokerAddrs":{0:1}}]}`, []string{`brokerDatas[0].brokerAddrs["0"]`, "want a string"}},
		{"brokerData not an object", `{"brokerDatas":[1]}`, []string{"brokerDatas[0]", "want an object"}},
		{"bad perm", `{"queueDatas":[{"perm":"rw"}]}`, []string{"queueDatas[0].perm", `"rw"`}},
		{"perm overflow", `{"queueDatas":[{"perm":4294967296}]}`, []string{"queueDatas[0].perm", "32-bit"}},
		{"queueDatas not an array", `{"queueDatas":{}}`, []string{"queueDatas", "want an array"}},
		{"filter server not a list", `{"filterServerTable":{"h:1":"f"}}`, []string{`filterServerTable["h:1"]`}},
		{"trailing", `{} {}`, []string{"trailing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeTopicRouteData([]byte(tt.body))
			if r != nil {
				t.Errorf("got a route with error %v", err)
			}
			checkErr(t, err, []error{ErrBadBody}, tt.mention...)
		})
	}
	_, err := DecodeClusterInfo([]byte(`{"brokerAddrTable":{"b":{"brokerAddrs":{x:1}}}}`))
	checkErr(t, err, []error{ErrBadBody}, "cluster info")
	_, err = DecodeClusterInfo([]byte(`{"clusterAddrTable":{"c":[1]}}`))
	checkErr(t, err, []error{ErrBadBody}, `clusterAddrTable["c"][0]`)
}

func TestDecodeMessages_Errors(t *testing.T) {
	good := AppendMessage(nil, &Message{Topic: "T", Body: []byte("hi"), Properties: "a\x01b"})
	with := func(off int, v uint32) []byte {
		b := append([]byte{}, good...)
		binary.BigEndian.PutUint32(b[off:], v)
		return b
	}
	bodyLenAt := 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8
	tests := []struct {
		name    string
		body    []byte
		want    []error
		mention []string
	}{
		{"short", good[:3], []error{ErrBadBody, ErrTruncated}, []string{"message 0 at byte 0", "total size"}},
		{"size beyond body", good[:len(good)-1], []error{ErrBadBody, ErrTruncated}, []string{"total size"}},
		{"negative size", with(0, 0xFFFFFFF0), []error{ErrBadBody, ErrBadLength}, []string{"-16"}},
		{"bad magic", with(4, 0xCAFEBABE), []error{ErrBadBody}, []string{"magic", "0xcafebabe"}},
		{"negative body length", with(bodyLenAt, 0xFFFFFFFF), []error{ErrBadBody, ErrBadLength}, []string{"body length -1"}},
		{"body overruns record", with(bodyLenAt, 1000), []error{ErrBadBody, ErrTruncated}, []string{"body needs 1000"}},
		{"size larger than fields", append(with(0, uint32(len(good)+1)), 0), []error{ErrBadBody, ErrBadLength}, []string{"fields take"}},
		{"second record short", append(append([]byte{}, good...), 0, 0), []error{ErrBadBody, ErrTruncated}, []string{"message 1 at byte"}},
		{"bad port", with(4+4+4+4+4+8+8+4+8+4, 70000), []error{ErrBadBody}, []string{"bornHost port 70000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := DecodeMessages(tt.body)
			if msgs != nil {
				t.Errorf("got messages with error %v", err)
			}
			checkErr(t, err, tt.want, tt.mention...)
		})
	}
}

func TestDecodeBatch_Errors(t *testing.T) {
	good := AppendBatchMessage(nil, BatchMessage{Body: []byte("b1"), Properties: "TAGS\x01A\x02"})
	neg := append([]byte{}, good...)
	binary.BigEndian.PutUint32(neg[16:], 0xFFFFFFFE)
	negProps := append([]byte{}, good...)
	binary.BigEndian.PutUint16(negProps[22:], 0x8000)
	tests := []struct {
		name    string
		body    []byte
		want    []error
		mention []string
	}{
		{"short", good[:2], []error{ErrBadBody, ErrTruncated}, []string{"batch message 0"}},
		{"truncated", good[:len(good)-1], []error{ErrBadBody, ErrTruncated}, []string{"total size"}},
		{"negative body length", neg, []error{ErrBadBody, ErrBadLength}, []string{"body length -2"}},
		{"negative properties length", negProps, []error{ErrBadBody, ErrBadLength}, []string{"properties length -32768"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBatch(tt.body)
			checkErr(t, err, tt.want, tt.mention...)
		})
	}
}

func TestTypedHeaders_Errors(t *testing.T) {
	_, err := DecodePullMessageRequestHeader(map[string]string{"topic": "T"})
	checkErr(t, err, []error{ErrBadField}, "PullMessageRequestHeader", `"consumerGroup"`, "missing")

	_, err = DecodeQueryConsumerOffsetRequestHeader(map[string]string{"consumerGroup": "g", "topic": "T", "queueId": "x1"})
	checkErr(t, err, []error{ErrBadField}, "QueryConsumerOffsetRequestHeader", `"queueId"`, `"x1"`)

	_, err = DecodeEndTransactionRequestHeader(map[string]string{"producerGroup": "p", "tranStateTableOffset": "1", "commitLogOffset": "99999999999999999999", "commitOrRollback": "8", "msgId": "m"})
	checkErr(t, err, []error{ErrBadField}, `"commitLogOffset"`, "64-bit")

	_, err = DecodeSendMessageV2(map[string]string{"a": "g", "b": "T", "c": "TBW102", "d": "4", "e": "1", "f": "0", "g": "1", "h": "0", "k": "maybe"})
	checkErr(t, err, []error{ErrBadField}, "SendMessageRequestHeaderV2", `"k"`, `"maybe"`, "boolean")

	_, err = DecodeSendMessageRequestHeader(nil)
	checkErr(t, err, []error{ErrBadField}, `"producerGroup"`)

	_, _, err = DecodeOffsetMsgID("7F00000100005")
	checkErr(t, err, []error{ErrBadField}, "13 hex digits")
	_, _, err = DecodeOffsetMsgID(strings.Repeat("Z", 32))
	checkErr(t, err, []error{ErrBadField}, "not hex")

	err = DecodeJSONBody([]byte(`{"clientID":1}`), new(HeartbeatData))
	checkErr(t, err, []error{ErrBadBody}, "*remoting.HeartbeatData")
	_, err = DecodeHeartbeat([]byte(`{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":["x"]}]}]}`))
	checkErr(t, err, []error{ErrBadBody}, "codeSet")
}

// TestSubscriptionData_UnmarshalError covers the one error of the package that
// reaches a caller of encoding/json directly, not through DecodeJSONBody.
func TestSubscriptionData_UnmarshalError(t *testing.T) {
	var s SubscriptionData
	err := json.Unmarshal([]byte(`{"topic":"T","codeSet":["x"]}`), &s)
	checkErr(t, err, []error{ErrBadBody}, "codeSet", `"x"`, "32-bit")

	_, err = DecodeHeartbeat([]byte(`{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":[1e99]}]}]}`))
	checkErr(t, err, []error{ErrBadBody}, "*remoting.HeartbeatData", "codeSet", "1e99")
	if n := strings.Count(err.Error(), "remoting:"); n != 1 {
		t.Errorf("error %q carries the package prefix %d times", err, n)
	}
}

// TestErrorMessages_Prefix reads the package's source and fails on an error or
// panic message that does not start with "remoting: ", so that the prefix cannot
// drift the way it did in other packages. The sentinels in errors.go are exempt:
// they are only returned wrapped in a message that has it.
func TestErrorMessages_Prefix(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") || name == "errors.go" {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			switch fn := callName(call); fn {
			case "fmt.Errorf", "errors.New", "panic":
				arg := call.Args[0]
				if inner, ok := arg.(*ast.CallExpr); ok && fn == "panic" && callName(inner) == "fmt.Sprintf" {
					arg = inner.Args[0]
				}
				lit, ok := arg.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("%s: %s with a message that is not a string literal", fset.Position(call.Pos()), fn)
					return true
				}
				if s, _ := strconv.Unquote(lit.Value); !strings.HasPrefix(s, "remoting: ") {
					t.Errorf("%s: %s message %s lacks the \"remoting: \" prefix", fset.Position(call.Pos()), fn, lit.Value)
				}
				checked++
			}
			return true
		})
	}
	if checked < 40 {
		t.Errorf("checked only %d messages; is the test reading the package?", checked)
	}
}

func callName(call *ast.CallExpr) string {
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return fn.Name
	case *ast.SelectorExpr:
		if x, ok := fn.X.(*ast.Ident); ok {
			return x.Name + "." + fn.Sel.Name
		}
	}
	return ""
}
