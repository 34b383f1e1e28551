package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// remotingDir is the package the generator writes into, seen from this directory.
const remotingDir = "../.."

// TestGenerate_Committed fails when a declaration changed without go generate, or
// the generated files were edited by hand.
func TestGenerate_Committed(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(remotingDir, declFile))
	if err != nil {
		t.Fatal(err)
	}
	code, testCode, err := generate(declFile, src)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{genFile: code, genTestFile: testCode} {
		got, err := os.ReadFile(filepath.Join(remotingDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what %s generates; run go generate ./transport/remoting", name, declFile)
		}
	}
}

// TestGenerate_Forms checks what the generator makes of each tag, on a small
// declaration file, by the lines of the output.
func TestGenerate_Forms(t *testing.T) {
	src := `package remoting

type AHeader struct {
	Name  string ` + "`ext:\"name,required\"`" + `
	N     int64  ` + "`ext:\"n\"`" + `
	Flag  bool   ` + "`ext:\"flag,omitempty\"`" + `
	Opt   *int32 ` + "`ext:\"opt\"`" + `
	Extra map[string]string
}

type Untagged struct{ X int }

type BHeader struct {
	Q     int32 ` + "`ext:\"queue,required\" v2:\"q\"`" + `
	Extra map[string]string
}
`
	code, testCode, err := generate("decl.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"func DecodeAHeader(ext map[string]string) (*AHeader, error) {",
		`Name: d.str("name", true),`,
		`N:    d.i64("n", false),`,
		`Flag: d.boolean("flag", false),`,
		`Opt:  d.optI32("opt"),`,
		"h.Extra = d.extra(isAHeaderKey)",
		"func (h *AHeader) Encode() map[string]string {",
		`e.str("name", h.Name, true)`,
		`e.i64("n", h.N, true)`,
		`e.boolean("flag", h.Flag, false)`,
		`e.optI32("opt", h.Opt)`,
		`case "name", "n", "flag", "opt":`,
		// A type with v2 keys gets unexported forms; its exported API is hand-written.
		"func decodeBHeader(ext map[string]string) (*BHeader, error) {",
		"func decodeBHeaderV2(ext map[string]string) (*BHeader, error) {",
		`d := extDecoder{header: "BHeaderV2", ext: ext}`,
		`Q: d.i32("q", true),`,
		"func (h *BHeader) encodeV2() map[string]string {",
		`case "queue":`,
		`case "q":`,
	} {
		if !strings.Contains(string(code), want) {
			t.Errorf("generated code lacks %q:\n%s", want, code)
		}
	}
	if strings.Contains(string(code), "Untagged") {
		t.Errorf("a struct without ext tags was generated:\n%s", code)
	}
	for _, want := range []string{`{"AHeader", func(`, `{"BHeader", func(`, `{"BHeaderV2", func(`, "h, err := decodeBHeaderV2(ext)", "return h.encodeV2(), h, nil"} {
		if !strings.Contains(string(testCode), want) {
			t.Errorf("generated test table lacks %q:\n%s", want, testCode)
		}
	}
}

func TestGenerate_Errors(t *testing.T) {
	tag := func(s string) string { return "`" + s + "`" }
	tests := []struct {
		name, fields string
		mention      []string
	}{
		{"unsupported type", "F float64 " + tag(`ext:"f"`), []string{"H.F", "float64", "not one of"}},
		{"pointer to int64", "F *int64 " + tag(`ext:"f"`), []string{"H.F", "*int64"}},
		{"untagged field", "G string " + tag(`ext:"g"`) + "\n\tF string", []string{"H.F", "no `ext` tag"}},
		{"empty key", "F string " + tag(`ext:",required"`), []string{"H.F", "no key"}},
		{"unknown option", "F string " + tag(`ext:"f,requird"`), []string{"H.F", `"requird"`}},
		{"required and omitempty", "F string " + tag(`ext:"f,required,omitempty"`), []string{"H.F", "drop omitempty"}},
		{"optional pointer required", "F *int32 " + tag(`ext:"f,required"`), []string{"H.F", "*int32"}},
		{"key twice", "F string " + tag(`ext:"f"`) + "\n\tG string " + tag(`ext:"f"`), []string{"H.G", `"f"`, "H.F"}},
		{"v2 key twice", "F string " + tag(`ext:"f" v2:"a"`) + "\n\tG string " + tag(`ext:"g" v2:"a"`), []string{"H.G", `"a"`, "H.F"}},
		{"v2 on some fields", "F string " + tag(`ext:"f" v2:"a"`) + "\n\tG string " + tag(`ext:"g"`), []string{"H", "1 of 2", "v2"}},
		{"empty v2", "F string " + tag(`ext:"f" v2:""`), []string{"H.F", "empty `v2`"}},
		{"grouped fields", "F, G string " + tag(`ext:"f"`), []string{"H", "one field per line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "package remoting\n\ntype H struct {\n\t" + tt.fields + "\n\tExtra map[string]string\n}\n"
			_, _, err := generate("decl.go", []byte(src))
			checkErr(t, err, append(tt.mention, "decl.go:3:")...)
		})
	}
	_, _, err := generate("decl.go", []byte("package remoting\n\ntype H struct {\n\tF string `ext:\"f\"`\n}\n"))
	checkErr(t, err, "H", "no Extra")
	_, _, err = generate("decl.go", []byte("package remoting\n\ntype H struct{ X int }\n"))
	checkErr(t, err, "decl.go", "no struct")
	_, _, err = generate("decl.go", []byte("package remoting\n\ntype H struct {"))
	checkErr(t, err, "decl.go")
}

func checkErr(t *testing.T, err error, mention ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", mention)
	}
	for _, m := range append(mention, "headergen: ") {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}
