package remoting

import "strconv"

// SerializeType is the header encoding, carried in the high byte of a frame's second
// length field.
type SerializeType byte

// Header encodings.
const (
	SerializeJSON     SerializeType = 0
	SerializeRocketMQ SerializeType = 1
)

// String returns the name Apache RocketMQ uses for the type.
func (t SerializeType) String() string {
	switch t {
	case SerializeJSON:
		return "JSON"
	case SerializeRocketMQ:
		return "ROCKETMQ"
	}
	return "SerializeType(" + strconv.Itoa(int(t)) + ")"
}

// HeaderStyle chooses the shape of an encoded JSON header. It does not change the
// header's meaning, only what a byte-level observer sees.
type HeaderStyle uint8

const (
	// StyleGo is the Go client's form: keys in the order code, language, version,
	// opaque, flag, remark, extFields, with remark and extFields always present.
	StyleGo HeaderStyle = iota
	// StyleJava is fastjson's form as Apache RocketMQ writes it: keys in alphabetical
	// order, "serializeTypeCurrentRPC" added, remark omitted when empty and extFields
	// omitted when nil (written as {} when empty but non-nil).
	StyleJava
)

// Flag bits.
const (
	// FlagResponse marks a response.
	FlagResponse int32 = 1 << 0
	// FlagOneway marks a request that gets no reply.
	FlagOneway int32 = 1 << 1
)

// Language names as they appear in JSON headers.
const (
	LanguageJava = "JAVA"
	LanguageGo   = "GO"
)

// Versions seen on the wire.
const (
	// VersionGoClient is what rocketmq-client-go v2.1.2 always sends (V4_5_2).
	VersionGoClient int32 = 317
	// VersionV4_9_4 is the first version the nameserver answers with quoted
	// brokerAddrs keys.
	VersionV4_9_4 int32 = 401
	// VersionV4_9_8 is what Apache RocketMQ 4.9.8 sends.
	VersionV4_9_8 int32 = 409
)

// Command is one remoting request or response: the decoded header and the body.
//
// ExtFields distinguishes nil (absent, as Java writes a null map) from empty. Body
// aliases the buffer it was decoded from.
type Command struct {
	Code          int32
	Language      string
	Version       int32
	Opaque        int32
	Flag          int32
	Remark        string
	ExtFields     map[string]string
	Body          []byte
	SerializeType SerializeType
	// Style is the JSON header form to write; decoding sets it to the form it read.
	Style HeaderStyle

	// extOrder keeps the extFields order of a decoded ROCKETMQ header so that a
	// relayed binary header re-encodes byte for byte; it is ignored once the keys
	// no longer match ExtFields.
	extOrder []string
}

// IsResponse reports whether the response flag bit is set.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether the oneway flag bit is set.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// NewRequest returns a request as the Go client writes it.
func NewRequest(code int32, extFields map[string]string, body []byte) *Command {
	if extFields == nil {
		extFields = map[string]string{}
	}
	return &Command{
		Code:      code,
		Language:  LanguageGo,
		Version:   VersionGoClient,
		ExtFields: extFields,
		Body:      body,
		Style:     StyleGo,
	}
}

// NewResponse returns a response to req with the given code and remark, in the
// serialize type of the request and the header form Apache RocketMQ 4.9.8 writes.
func NewResponse(req *Command, code int32, remark string) *Command {
	return &Command{
		Code:          code,
		Language:      LanguageJava,
		Version:       VersionV4_9_8,
		Opaque:        req.Opaque,
		Flag:          FlagResponse,
		Remark:        remark,
		SerializeType: req.SerializeType,
		Style:         StyleJava,
	}
}

// Ext returns the extFields value for key, or "" when absent.
func (c *Command) Ext(key string) string {
	return c.ExtFields[key]
}

// SetExt sets an extFields value, allocating the map if needed.
func (c *Command) SetExt(key, value string) {
	if c.ExtFields == nil {
		c.ExtFields = make(map[string]string)
	}
	c.ExtFields[key] = value
}

// Clone returns a copy whose ExtFields map can be changed without touching c. The
// body is shared.
func (c *Command) Clone() *Command {
	cp := *c
	if c.ExtFields != nil {
		cp.ExtFields = make(map[string]string, len(c.ExtFields))
		for k, v := range c.ExtFields {
			cp.ExtFields[k] = v
		}
	}
	return &cp
}

// languageCodes maps JSON language names to the ROCKETMQ header's byte, in
// Apache RocketMQ's LanguageCode order.
var languageCodes = [...]string{"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST"}

func languageByte(name string) (byte, bool) {
	for i, n := range languageCodes {
		if n == name {
			return byte(i), true
		}
	}
	return 0, false
}

func languageName(b byte) (string, bool) {
	if int(b) < len(languageCodes) {
		return languageCodes[b], true
	}
	return "", false
}
