package remoting

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenDir holds the frames captured from Apache RocketMQ 4.9.8 (copied from the
// shared capture; tests read only testdata).
const goldenDir = "testdata/wire"

// goldenEntry is one entry of testdata/wire/frames.json.
type goldenEntry struct {
	File          string          `json:"file"`
	Direction     string          `json:"direction"`
	Code          int32           `json:"code"`
	RequestCode   int32           `json:"request_code"`
	IsResponse    bool            `json:"is_response"`
	Oneway        bool            `json:"oneway"`
	SerializeType string          `json:"serialize_type"`
	Opaque        int32           `json:"opaque"`
	Flag          int32           `json:"flag"`
	Language      string          `json:"language"`
	Version       int32           `json:"version"`
	FrameLen      int             `json:"frame_len"`
	LengthField   int             `json:"length_field"`
	HeaderLen     int             `json:"header_len"`
	BodyLen       int             `json:"body_len"`
	Header        json.RawMessage `json:"header"`
	Pair          string          `json:"pair"`
	BodyText      *string         `json:"body_text"`
	Messages      []goldenMessage `json:"messages"`
	BatchMessages []goldenBatch   `json:"batch_messages"`
}

type goldenMessage struct {
	TotalSize                 int32             `json:"totalSize"`
	Magic                     string            `json:"magic"`
	BodyCRC                   uint32            `json:"bodyCRC"`
	QueueID                   int32             `json:"queueId"`
	Flag                      int32             `json:"flag"`
	QueueOffset               int64             `json:"queueOffset"`
	CommitLogOffset           int64             `json:"commitLogOffset"`
	SysFlag                   int32             `json:"sysFlag"`
	BornTimestamp             int64             `json:"bornTimestamp"`
	BornHost                  string            `json:"bornHost"`
	StoreTimestamp            int64             `json:"storeTimestamp"`
	StoreHost                 string            `json:"storeHost"`
	ReconsumeTimes            int32             `json:"reconsumeTimes"`
	PreparedTransactionOffset int64             `json:"preparedTransactionOffset"`
	Body                      string            `json:"body"`
	Topic                     string            `json:"topic"`
	Properties                string            `json:"properties"`
	PropertiesMap             map[string]string `json:"properties_map"`
}

type goldenBatch struct {
	TotalSize     int32             `json:"totalSize"`
	Magic         string            `json:"magic"`
	BodyCRC       int32             `json:"bodyCRC"`
	Flag          int32             `json:"flag"`
	Body          string            `json:"body"`
	Properties    string            `json:"properties"`
	PropertiesMap map[string]string `json:"properties_map"`
}

// goldenHeader is the manifest's parsed header.
type goldenHeader struct {
	Code      int32              `json:"code"`
	Language  string             `json:"language"`
	Version   int32              `json:"version"`
	Opaque    int32              `json:"opaque"`
	Flag      int32              `json:"flag"`
	Remark    *string            `json:"remark"`
	ExtFields *map[string]string `json:"extFields"`
}

type goldenFrame struct {
	goldenEntry
	raw []byte
}

// name is the file name without directory and extension.
func (g goldenFrame) name() string {
	return strings.TrimSuffix(filepath.Base(g.File), ".bin")
}

func loadGolden(tb testing.TB) []goldenFrame {
	tb.Helper()
	manifest, err := os.ReadFile(filepath.Join(goldenDir, "frames.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var entries []goldenEntry
	if err := json.Unmarshal(manifest, &entries); err != nil {
		tb.Fatalf("frames.json: %v", err)
	}
	out := make([]goldenFrame, 0, len(entries))
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(goldenDir, filepath.Base(e.File)))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, goldenFrame{goldenEntry: e, raw: raw})
	}
	if len(out) == 0 {
		tb.Fatal("no golden frames")
	}
	return out
}

// goldenByName returns the frame with the given file name (without .bin).
func goldenByName(tb testing.TB, frames []goldenFrame, name string) goldenFrame {
	tb.Helper()
	for _, f := range frames {
		if f.name() == name {
			return f
		}
	}
	tb.Fatalf("no golden frame %q", name)
	return goldenFrame{}
}

// goldenBodies returns the bodies of the golden frames for which keep is true, for
// seeding fuzz targets.
func goldenBodies(tb testing.TB, keep func(goldenFrame) bool) [][]byte {
	var out [][]byte
	for _, f := range loadGolden(tb) {
		if !keep(f) {
			continue
		}
		cmd, err := DecodeFrame(f.raw)
		if err != nil {
			tb.Fatalf("%s: %v", f.File, err)
		}
		out = append(out, cmd.Body)
	}
	return out
}
