// Command headergen writes the decoders and encoders of the remoting package's typed
// headers from their declarations, so that each extFields key is spelled once: in
// the `ext` (and, for the send header's one-letter form, `v2`) struct tag of its
// field in headers_typed.go. Run it through go generate in transport/remoting:
//
//	go generate ./transport/remoting
//
// It writes headers_typed_gen.go (DecodeX and Encode per type, or their unexported
// forms for a type with v2 keys, whose exported API is written by hand) and
// headers_typed_gen_test.go (a table of every decoder, which the fuzz target walks so
// that a new header is fuzzed without anyone remembering to add it).
//
// The output is plain code over the package's extDecoder and extEncoder: no
// reflection at run time. A test in this directory fails when the committed output
// is not what the declarations generate.
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// Files, relative to the remoting package's directory (where go generate runs).
const (
	declFile    = "headers_typed.go"
	genFile     = "headers_typed_gen.go"
	genTestFile = "headers_typed_gen_test.go"
)

func main() {
	src, err := os.ReadFile(declFile)
	if err != nil {
		fail(err)
	}
	code, testCode, err := generate(declFile, src)
	if err != nil {
		fail(err)
	}
	for name, b := range map[string][]byte{genFile: code, genTestFile: testCode} {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// fieldKind is the Go type of a header field, which picks the extDecoder and
// extEncoder methods that read and write it.
type fieldKind string

const (
	kindString fieldKind = "string"
	kindInt32  fieldKind = "int32"
	kindInt64  fieldKind = "int64"
	kindBool   fieldKind = "bool"
	// kindOptInt32 is *int32: nil when the key is absent, written only when set.
	kindOptInt32 fieldKind = "*int32"
)

// method is the name of the extDecoder and extEncoder method for the kind.
var method = map[fieldKind]string{
	kindString:   "str",
	kindInt32:    "i32",
	kindInt64:    "i64",
	kindBool:     "boolean",
	kindOptInt32: "optI32",
}

// field is one tagged field of a header type.
type field struct {
	name      string
	kind      fieldKind
	key       string // the extFields key
	v2Key     string // the one-letter key of the V2 form; "" when the type has none
	required  bool   // decoding fails without the key
	omitEmpty bool   // written only when not the zero value
}

// header is one header type.
type header struct {
	name   string
	fields []field
	// v2 is set when the fields carry v2 keys: the type has a long and a one-letter
	// form, and its exported API, which says which codes use which, is hand-written.
	v2 bool
}

// generate parses the declarations in src and returns the generated code and the
// generated test table.
func generate(filename string, src []byte) (code, testCode []byte, err error) {
	headers, err := parse(filename, src)
	if err != nil {
		return nil, nil, err
	}
	if len(headers) == 0 {
		return nil, nil, fmt.Errorf("headergen: %s declares no struct with `ext` tags", filename)
	}
	if code, err = format.Source(writeCode(headers)); err != nil {
		return nil, nil, fmt.Errorf("headergen: formatting generated code: %w", err)
	}
	if testCode, err = format.Source(writeTestTable(headers)); err != nil {
		return nil, nil, fmt.Errorf("headergen: formatting generated test table: %w", err)
	}
	return code, testCode, nil
}

// parse returns the header types of src in declaration order: every struct type
// with at least one `ext` tag.
func parse(filename string, src []byte) ([]header, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("headergen: %w", err)
	}
	var headers []header
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok || !hasExtTag(st) {
				continue
			}
			h, err := parseHeader(ts.Name.Name, st)
			if err != nil {
				return nil, fmt.Errorf("headergen: %s: %w", fset.Position(ts.Pos()), err)
			}
			headers = append(headers, h)
		}
	}
	return headers, nil
}

func hasExtTag(st *ast.StructType) bool {
	for _, f := range st.Fields.List {
		if _, ok := tagOf(f).Lookup("ext"); ok {
			return true
		}
	}
	return false
}

func tagOf(f *ast.Field) reflect.StructTag {
	if f.Tag == nil {
		return ""
	}
	s, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return ""
	}
	return reflect.StructTag(s)
}

func parseHeader(name string, st *ast.StructType) (header, error) {
	h := header{name: name}
	sawExtra := false
	keys := map[string]string{}   // key → field, to reject a key spelled twice
	v2Keys := map[string]string{} // likewise for the one-letter keys
	for _, f := range st.Fields.List {
		if len(f.Names) != 1 {
			return h, fmt.Errorf("%s: embedded or grouped fields are not supported; declare one field per line", name)
		}
		fname := f.Names[0].Name
		tag := tagOf(f)
		ext, ok := tag.Lookup("ext")
		if !ok {
			if fname == "Extra" && isStringMap(f.Type) {
				sawExtra = true
				continue
			}
			return h, fmt.Errorf("%s.%s: no `ext` tag; every field but Extra map[string]string names its key", name, fname)
		}
		fd := field{name: fname}
		kind, ok := kindOf(f.Type)
		if !ok {
			return h, fmt.Errorf("%s.%s: type %s is not one of string, int32, int64, bool, *int32", name, fname, exprString(f.Type))
		}
		fd.kind = kind
		parts := strings.Split(ext, ",")
		fd.key = parts[0]
		if fd.key == "" {
			return h, fmt.Errorf("%s.%s: `ext` tag %q has no key", name, fname, ext)
		}
		for _, opt := range parts[1:] {
			switch opt {
			case "required":
				fd.required = true
			case "omitempty":
				fd.omitEmpty = true
			default:
				return h, fmt.Errorf("%s.%s: `ext` tag option %q is neither required nor omitempty", name, fname, opt)
			}
		}
		if fd.required && fd.omitEmpty {
			return h, fmt.Errorf("%s.%s: a required field is always written; drop omitempty", name, fname)
		}
		if kind == kindOptInt32 && (fd.required || fd.omitEmpty) {
			return h, fmt.Errorf("%s.%s: a *int32 field is optional and written only when set; drop the options", name, fname)
		}
		if prev, dup := keys[fd.key]; dup {
			return h, fmt.Errorf("%s.%s: key %q is also the key of %s.%s", name, fname, fd.key, name, prev)
		}
		keys[fd.key] = fname
		if v2, ok := tag.Lookup("v2"); ok {
			if v2 == "" {
				return h, fmt.Errorf("%s.%s: empty `v2` tag", name, fname)
			}
			if prev, dup := v2Keys[v2]; dup {
				return h, fmt.Errorf("%s.%s: v2 key %q is also the v2 key of %s.%s", name, fname, v2, name, prev)
			}
			v2Keys[v2] = fname
			fd.v2Key = v2
		}
		h.fields = append(h.fields, fd)
	}
	if !sawExtra {
		return h, fmt.Errorf("%s: no Extra map[string]string field to keep unknown keys in", name)
	}
	if len(v2Keys) > 0 {
		if len(v2Keys) != len(h.fields) {
			return h, fmt.Errorf("%s: %d of %d fields have a `v2` tag; a V2 form needs a key for every field", name, len(v2Keys), len(h.fields))
		}
		h.v2 = true
	}
	return h, nil
}

func kindOf(e ast.Expr) (fieldKind, bool) {
	switch t := e.(type) {
	case *ast.Ident:
		switch k := fieldKind(t.Name); k {
		case kindString, kindInt32, kindInt64, kindBool:
			return k, true
		}
	case *ast.StarExpr:
		if id, ok := t.X.(*ast.Ident); ok && id.Name == "int32" {
			return kindOptInt32, true
		}
	}
	return "", false
}

func isStringMap(e ast.Expr) bool {
	m, ok := e.(*ast.MapType)
	if !ok {
		return false
	}
	k, kok := m.Key.(*ast.Ident)
	v, vok := m.Value.(*ast.Ident)
	return kok && vok && k.Name == "string" && v.Name == "string"
}

func exprString(e ast.Expr) string {
	var b bytes.Buffer
	if err := format.Node(&b, token.NewFileSet(), e); err != nil {
		return fmt.Sprintf("%T", e)
	}
	return b.String()
}

const preamble = "// Code generated by headergen from " + declFile + "; DO NOT EDIT.\n\n"

// form is one key set of a header: the long keys, or the one-letter keys of V2.
type form struct {
	decode, encode, isKey string // function names
	errName               string // the header's name in decode errors
	key                   func(field) string
}

func forms(h header) []form {
	long := form{
		decode:  "Decode" + h.name,
		encode:  "Encode",
		isKey:   "is" + h.name + "Key",
		errName: h.name,
		key:     func(f field) string { return f.key },
	}
	if !h.v2 {
		return []form{long}
	}
	long.decode, long.encode = "decode"+h.name, "encode"
	return []form{long, {
		decode:  "decode" + h.name + "V2",
		encode:  "encodeV2",
		isKey:   "is" + h.name + "KeyV2",
		errName: h.name + "V2",
		key:     func(f field) string { return f.v2Key },
	}}
}

func writeCode(headers []header) []byte {
	var b bytes.Buffer
	b.WriteString(preamble)
	b.WriteString("package remoting\n")
	for _, h := range headers {
		for _, fm := range forms(h) {
			writeDecode(&b, h, fm)
			writeEncode(&b, h, fm)
			writeIsKey(&b, h, fm)
		}
	}
	return b.Bytes()
}

func writeDecode(b *bytes.Buffer, h header, fm form) {
	b.WriteString("\n")
	if !h.v2 {
		writeComment(b, fmt.Sprintf("%s decodes ext into a %s. A missing required field or a "+
			"malformed number or boolean is an error wrapping [ErrBadField]; keys the type does "+
			"not know are kept in Extra.", fm.decode, h.name))
	}
	fmt.Fprintf(b, "func %s(ext map[string]string) (*%s, error) {\n", fm.decode, h.name)
	fmt.Fprintf(b, "\td := extDecoder{header: %q, ext: ext}\n", fm.errName)
	fmt.Fprintf(b, "\th := &%s{\n", h.name)
	for _, f := range h.fields {
		if f.kind == kindOptInt32 {
			fmt.Fprintf(b, "\t\t%s: d.%s(%q),\n", f.name, method[f.kind], fm.key(f))
		} else {
			fmt.Fprintf(b, "\t\t%s: d.%s(%q, %t),\n", f.name, method[f.kind], fm.key(f), f.required)
		}
	}
	b.WriteString("\t}\n")
	fmt.Fprintf(b, "\tif d.err != nil {\n\t\treturn nil, d.err\n\t}\n")
	fmt.Fprintf(b, "\th.Extra = d.extra(%s)\n", fm.isKey)
	b.WriteString("\treturn h, nil\n}\n")
}

func writeEncode(b *bytes.Buffer, h header, fm form) {
	b.WriteString("\n")
	if !h.v2 {
		b.WriteString("// Encode returns the header as extFields, Extra included.\n")
	}
	fmt.Fprintf(b, "func (h *%s) %s() map[string]string {\n", h.name, fm.encode)
	fmt.Fprintf(b, "\te := newExtEncoder(h.Extra, %d)\n", len(h.fields))
	for _, f := range h.fields {
		if f.kind == kindOptInt32 {
			fmt.Fprintf(b, "\te.%s(%q, h.%s)\n", method[f.kind], fm.key(f), f.name)
		} else {
			fmt.Fprintf(b, "\te.%s(%q, h.%s, %t)\n", method[f.kind], fm.key(f), f.name, !f.omitEmpty)
		}
	}
	b.WriteString("\treturn e.m\n}\n")
}

// writeComment writes text as a // comment wrapped before 80 columns.
func writeComment(b *bytes.Buffer, text string) {
	line := "//"
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > 80 {
			b.WriteString(line + "\n")
			line = "//"
		}
		line += " " + word
	}
	b.WriteString(line + "\n")
}

func writeIsKey(b *bytes.Buffer, h header, fm form) {
	fmt.Fprintf(b, "\nfunc %s(k string) bool {\n\tswitch k {\n\tcase ", fm.isKey)
	for i, f := range h.fields {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%q", fm.key(f))
	}
	b.WriteString(":\n\t\treturn true\n\t}\n\treturn false\n}\n")
}

func writeTestTable(headers []header) []byte {
	var b bytes.Buffer
	b.WriteString(preamble)
	b.WriteString("package remoting\n\n")
	b.WriteString("// generatedHeaders holds, per form of every typed header, a function that decodes\n")
	b.WriteString("// extFields and encodes the result back, and the test for the keys it knows.\n")
	b.WriteString("var generatedHeaders = []struct {\n\tname  string\n\tcodec typedHeader\n\tisKey func(string) bool\n}{\n")
	for _, h := range headers {
		for _, fm := range forms(h) {
			fmt.Fprintf(&b, "\t{%q, func(ext map[string]string) (map[string]string, any, error) {\n", fm.errName)
			fmt.Fprintf(&b, "\t\th, err := %s(ext)\n", fm.decode)
			b.WriteString("\t\tif err != nil {\n\t\t\treturn nil, nil, err\n\t\t}\n")
			fmt.Fprintf(&b, "\t\treturn h.%s(), h, nil\n\t}, %s},\n", fm.encode, fm.isKey)
		}
	}
	b.WriteString("}\n")
	return b.Bytes()
}
