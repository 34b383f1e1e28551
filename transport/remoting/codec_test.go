package remoting

import (
	"bytes"
	"compress/zlib"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoute_EncodeShape(t *testing.T) {
	r := &TopicRouteData{
		OrderTopicConf: "broker-a:4",
		QueueDatas:     []QueueData{{BrokerName: "broker-a", ReadQueueNums: 2, WriteQueueNums: 1, Perm: PermRead | PermWrite | PermInherit, TopicSysFlag: 0}},
		BrokerDatas: []BrokerData{
			{Cluster: "c", BrokerName: "broker-a", BrokerAddrs: map[int64]string{2: "::1:10913", 0: "[::1]:10911", 1: "10.0.0.1:10912"}},
			{Cluster: "c", BrokerName: "no-members"},
		},
	}
	const wantFastjson = `{"brokerDatas":[{"brokerAddrs":{0:"[::1]:10911",1:"10.0.0.1:10912",2:"[::1]:10913"},"brokerName":"broker-a","cluster":"c"},` +
		`{"brokerAddrs":{},"brokerName":"no-members","cluster":"c"}],"filterServerTable":{},"orderTopicConf":"broker-a:4",` +
		`"queueDatas":[{"brokerName":"broker-a","perm":7,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":1}]}`
	if got := string(r.Encode(RouteKeysFastjson)); got != wantFastjson {
		t.Errorf("fastjson:\n got %s\nwant %s", got, wantFastjson)
	}
	wantStandard := strings.NewReplacer(`{0:`, `{"0":`, `,1:`, `,"1":`, `,2:`, `,"2":`).Replace(wantFastjson)
	got := r.Encode(RouteKeysStandard)
	if string(got) != wantStandard {
		t.Errorf("standard:\n got %s\nwant %s", got, wantStandard)
	}
	back, err := DecodeTopicRouteData(got)
	if err != nil {
		t.Fatal(err)
	}
	if a := back.BrokerDatas[0].MasterAddr(); a != "[::1]:10911" {
		t.Errorf("MasterAddr = %q", a)
	}
	if n := len(back.BrokerDatas[1].BrokerAddrs); back.BrokerDatas[1].BrokerAddrs == nil || n != 0 {
		t.Errorf("empty brokerAddrs decoded as %v", back.BrokerDatas[1].BrokerAddrs)
	}
	if !bytes.Equal(back.Encode(RouteKeysStandard), got) {
		t.Errorf("not stable")
	}
}

func TestRoute_DecodeTolerance(t *testing.T) {
	// Whitespace, null members, string numbers, unknown keys and a Java field typo.
	body := ` { "brokerDatas" : [ { "brokerAddrs" : { 0 : "h:1" , "1":"h:2" } , "brokerName":"b", "enableActingMaster":false } ],
		"queueDatas":[{"brokerName":"b","perm":"6","readQueueNums":null,"topicSynFlag":3}], "orderTopicConf":null, "filterServerTable":null } `
	r, err := DecodeTopicRouteData([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := &TopicRouteData{
		QueueDatas:        []QueueData{{BrokerName: "b", Perm: 6, TopicSysFlag: 3}},
		BrokerDatas:       []BrokerData{{BrokerName: "b", BrokerAddrs: map[int64]string{0: "h:1", 1: "h:2"}}},
		FilterServerTable: map[string][]string{},
	}
	if diff := cmp.Diff(r, want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func TestRouteKeyStyleFor(t *testing.T) {
	tests := []struct {
		req  *Command
		want RouteKeyStyle
	}{
		{nil, RouteKeysFastjson},
		{&Command{Version: VersionGoClient}, RouteKeysFastjson},
		{&Command{Version: 400}, RouteKeysFastjson},
		{&Command{Version: 401}, RouteKeysStandard},
		{&Command{Version: VersionV4_9_8}, RouteKeysStandard},
		{&Command{Version: VersionGoClient, ExtFields: map[string]string{"acceptStandardJsonOnly": "true"}}, RouteKeysStandard},
		{&Command{Version: VersionGoClient, ExtFields: map[string]string{"acceptStandardJsonOnly": "false"}}, RouteKeysFastjson},
	}
	for _, tt := range tests {
		if got := RouteKeyStyleFor(tt.req); got != tt.want {
			t.Errorf("RouteKeyStyleFor(%+v) = %d, want %d", tt.req, got, tt.want)
		}
	}
}

func TestBracketAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:10911":     "127.0.0.1:10911",
		"::1:10911":           "[::1]:10911",
		"[::1]:10911":         "[::1]:10911",
		"fe80::1%eth0:10911":  "[fe80::1%eth0]:10911",
		"2001:db8::2:1:10911": "[2001:db8::2:1]:10911",
		"not:an:address":      "not:an:address",
		"":                    "",
	} {
		if got := BracketAddr(in); got != want {
			t.Errorf("BracketAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMessage_IPv6AndCompression(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write([]byte(strings.Repeat("payload ", 50)))
	_ = zw.Close()
	m := &Message{
		QueueID: 3, Flag: 7, QueueOffset: 11, CommitLogOffset: 1 << 40, SysFlag: SysFlagCompressed | SysFlagTransactionCommit,
		BornTimestamp: 1, BornHost: netip.MustParseAddrPort("[2001:db8::1]:40000"),
		StoreTimestamp: 2, StoreHost: netip.MustParseAddrPort("192.0.2.9:10911"),
		ReconsumeTimes: 2, PreparedTransactionOffset: 99, Body: z.Bytes(), Topic: "TopicTest",
		Properties: FormatProperties(map[string]string{PropertyKeys: "k1 k2", PropertyTags: "TagA", PropertyUniqKey: "ABC"}),
	}
	enc := AppendMessage(nil, m)
	msgs, err := DecodeMessages(append(enc, enc...))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	got := msgs[1]
	if got.SysFlag != m.SysFlag|SysFlagBornHostV6 {
		t.Errorf("sysFlag = %#x, want the born-host IPv6 bit added to %#x", got.SysFlag, m.SysFlag)
	}
	if got.BornHost != m.BornHost || got.StoreHost != m.StoreHost {
		t.Errorf("hosts = %v %v", got.BornHost, got.StoreHost)
	}
	if int(got.StoreSize) != len(enc) || got.BodyCRC != BodyCRC(m.Body) {
		t.Errorf("size %d crc %d", got.StoreSize, got.BodyCRC)
	}
	if TransactionType(got.SysFlag) != SysFlagTransactionCommit {
		t.Errorf("TransactionType = %#x", TransactionType(got.SysFlag))
	}
	body, err := got.UncompressedBody()
	if err != nil || string(body) != strings.Repeat("payload ", 50) {
		t.Errorf("UncompressedBody = %q, %v", body, err)
	}
	if got.Property(PropertyTags) != "TagA" || got.Property(PropertyKeys) != "k1 k2" {
		t.Errorf("properties %q", got.Properties)
	}
	if !bytes.Equal(AppendMessage(nil, got), enc) {
		t.Errorf("re-encoding the decoded IPv6 message differs")
	}
	// A 16-byte store host gives a 56-digit offset message id.
	got.StoreHost = netip.MustParseAddrPort("[2001:db8::9]:10911")
	id := got.OffsetMsgID()
	if len(id) != 56 || id != strings.ToUpper(id) {
		t.Errorf("IPv6 OffsetMsgID = %q", id)
	}
	host, off, err := DecodeOffsetMsgID(strings.ToLower(id))
	if err != nil || host != got.StoreHost || off != got.CommitLogOffset {
		t.Errorf("DecodeOffsetMsgID = %v %d %v", host, off, err)
	}

	bad := &Message{SysFlag: SysFlagCompressed, Body: []byte("not zlib")}
	if _, err := bad.UncompressedBody(); err == nil {
		t.Errorf("UncompressedBody of garbage succeeded")
	}
}

func TestMessage_Validate(t *testing.T) {
	if err := (&Message{Topic: strings.Repeat("t", 127), Properties: strings.Repeat("p", 32767)}).Validate(); err != nil {
		t.Errorf("limits: %v", err)
	}
	if err := (&Message{Topic: strings.Repeat("t", 128)}).Validate(); err == nil {
		t.Errorf("128-byte topic accepted")
	}
	if err := (&Message{Properties: strings.Repeat("p", 32768)}).Validate(); err == nil {
		t.Errorf("32768-byte properties accepted")
	}
}

func TestOffsetMsgID_Golden(t *testing.T) {
	id := OffsetMsgID(netip.MustParseAddrPort("127.0.0.1:22911"), 0)
	if id != "7F0000010000597F0000000000000000" {
		t.Errorf("OffsetMsgID = %s", id)
	}
	if id := OffsetMsgID(netip.MustParseAddrPort("127.0.0.1:22911"), 0x48D); id != "7F0000010000597F000000000000048D" {
		t.Errorf("OffsetMsgID = %s", id)
	}
}

func TestProperties(t *testing.T) {
	m := map[string]string{"b": "2", "a": "1", PropertyTransactionID: "x\x03y"}
	s := FormatProperties(m)
	if s != "__transactionId__\x01x\x03y\x02a\x011\x02b\x012\x02" {
		t.Errorf("FormatProperties = %q", s)
	}
	if diff := cmp.Diff(ParseProperties(s), m); diff != "" {
		t.Errorf("round trip (-got +want):\n%s", diff)
	}
	// Java's form (no final separator), junk pairs, empty names and values.
	got := ParseProperties("a\x011\x02junk\x02\x01x\x02b\x01\x02\x02c\x01=\x01d")
	want := map[string]string{"a": "1", "b": "", "c": "=\x01d"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
	if FormatProperties(nil) != "" || len(ParseProperties("")) != 0 {
		t.Errorf("empty")
	}
}

func TestPropertyValue(t *testing.T) {
	s := "a\x011\x02junk\x02\x01x\x02b\x01\x02\x02c\x01=\x01d\x02ab\x01no\x02a\x01last"
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"a", "last", true}, // a later duplicate wins, as in ParseProperties
		{"b", "", true},
		{"c", "=\x01d", true},
		{"ab", "no", true},
		{"junk", "", false},
		{"", "", false},
		{"d", "", false},
	} {
		got, ok := PropertyValue(s, tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PropertyValue(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
		if v, ok := ParseProperties(s)[tc.name]; v != got || ok != tc.ok {
			t.Errorf("ParseProperties()[%q] = %q, %v; PropertyValue disagrees", tc.name, v, ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { PropertyValue(s, "c") }); n != 0 {
		t.Errorf("PropertyValue allocates %v times", n)
	}
}

func TestFirstBatchProperties(t *testing.T) {
	var body []byte
	body = AppendBatchMessage(body, BatchMessage{Body: []byte("one"), Properties: "traceparent\x01x\x02"})
	body = AppendBatchMessage(body, BatchMessage{Body: []byte("two"), Properties: "other"})
	got, err := FirstBatchProperties(body)
	if err != nil || string(got) != "traceparent\x01x\x02" {
		t.Errorf("FirstBatchProperties = %q, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0, 3}, {0, 0, 0, 99, 1}, body[:20], AppendBatchMessage(nil, BatchMessage{Properties: "p"})[:22]} {
		if _, err := FirstBatchProperties(bad); !errors.Is(err, ErrBadBody) {
			t.Errorf("FirstBatchProperties(%x) = %v, want ErrBadBody", bad, err)
		}
	}
}

func TestBatch_RoundTrip(t *testing.T) {
	in := []BatchMessage{{Flag: 1, Body: []byte("x"), Properties: "a\x01b"}, {Magic: 5, BodyCRC: -1}}
	var enc []byte
	for _, m := range in {
		enc = AppendBatchMessage(enc, m)
	}
	out, err := DecodeBatch(enc)
	if err != nil {
		t.Fatal(err)
	}
	in[0].TotalSize, in[1].TotalSize = 4*5+1+2+3, 4*5+2
	if diff := cmp.Diff(out, in); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func TestTypedHeaders_ExtraAndOptional(t *testing.T) {
	ext := map[string]string{"consumerGroup": "g", "topic": "T", "queueId": "1", "commitOffset": "5", "x-mesh": "1"}
	h, err := DecodeUpdateConsumerOffsetRequestHeader(ext)
	if err != nil {
		t.Fatal(err)
	}
	if h.CommitOffset != 5 || h.Extra["x-mesh"] != "1" || len(h.Extra) != 1 {
		t.Errorf("header = %+v", h)
	}
	h.CommitOffset = 6
	want := map[string]string{"consumerGroup": "g", "topic": "T", "queueId": "1", "commitOffset": "6", "x-mesh": "1"}
	if diff := cmp.Diff(h.Encode(), want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}

	u := &UnregisterClientRequestHeader{ClientID: "c"}
	if diff := cmp.Diff(u.Encode(), map[string]string{"clientID": "c"}); diff != "" {
		t.Errorf("optional fields written when empty:\n%s", diff)
	}
	r := &GetRouteInfoRequestHeader{Topic: "T", AcceptStandardJSONOnly: true}
	if diff := cmp.Diff(r.Encode(), map[string]string{"topic": "T", "acceptStandardJsonOnly": "true"}); diff != "" {
		t.Errorf("route header:\n%s", diff)
	}

	s := &SendMessageRequestHeader{ProducerGroup: "p", Topic: "T", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4, QueueID: -1, Batch: true}
	v2 := s.EncodeFor(CodeSendBatchMessage)
	if v2["a"] != "p" || v2["e"] != "-1" || v2["m"] != "true" || len(v2) != 12 {
		t.Errorf("EncodeV2 = %v", v2)
	}
	back, err := DecodeSendHeader(CodeSendBatchMessage, v2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(back, s); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
	if long := s.EncodeFor(CodeSendMessage); long["producerGroup"] != "p" || long["batch"] != "true" {
		t.Errorf("Encode = %v", long)
	}

	pop := &PopMessageRequestHeader{ConsumerGroup: "g", Topic: "T", QueueID: -1, MaxMsgNums: 32, InvisibleTime: 60000, PollTime: 15000, BornTime: 1, ExpType: "TAG", Exp: "*"}
	enc := pop.Encode()
	if enc["order"] != "false" || enc["expType"] != "TAG" || enc["invisibleTime"] != "60000" {
		t.Errorf("pop = %v", enc)
	}
	if _, ok := enc["attemptId"]; ok {
		t.Errorf("empty attemptId written")
	}
	pop2, err := DecodePopMessageRequestHeader(enc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pop2, pop); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
	ack, err := DecodeAckMessageRequestHeader(map[string]string{"consumerGroup": "g", "topic": "T", "queueId": "0", "extraInfo": "0 1 2", "offset": "9"})
	if err != nil || ack.Offset != 9 || ack.ExtraInfo != "0 1 2" {
		t.Errorf("ack = %+v, %v", ack, err)
	}
}

func TestJSONHeader_Strings(t *testing.T) {
	in := `{"code":1,"remark":"\ud83d\ude00 \ud800\u0041 \u00e9\t\"\\\/","extFields":{"n":12.5,"b":false,"z":null}}`
	cmd, err := DecodeJSONHeader([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := "😀 \uFFFDA é\t\"\\/"; cmd.Remark != want {
		t.Errorf("remark = %q, want %q", cmd.Remark, want)
	}
	if diff := cmp.Diff(cmd.ExtFields, map[string]string{"n": "12.5", "b": "false"}); diff != "" {
		t.Errorf("extFields (-got +want):\n%s", diff)
	}
	if cmd.Style != StyleGo {
		t.Errorf("style = %d", cmd.Style)
	}
}

func TestMessage_MagicV2(t *testing.T) {
	long := strings.Repeat("t", 300)
	m := &Message{MagicV2: true, Topic: long, Body: []byte("x"), Properties: "a\x01b"}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	enc := AppendMessage(nil, m)
	msgs, err := DecodeMessages(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !msgs[0].MagicV2 || msgs[0].Topic != long || !bytes.Equal(AppendMessage(nil, msgs[0]), enc) {
		t.Errorf("v2 round trip: %+v", msgs[0])
	}
	if (&Message{Topic: long}).Validate() == nil {
		t.Errorf("v1 message with a 300-byte topic validated")
	}
}
