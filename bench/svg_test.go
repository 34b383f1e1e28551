package main

import (
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// svgElements parses an SVG document and returns its elements' names,
// attributes and text, failing the test when it is not well-formed XML.
func svgElements(t *testing.T, doc string) (rects []map[string]string, texts []string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	var inText bool
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return rects, texts
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
			if tok.Name.Local == "rect" {
				attrs := map[string]string{}
				for _, a := range tok.Attr {
					attrs[a.Name.Local] = a.Value
				}
				rects = append(rects, attrs)
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(tok))
			}
		case xml.EndElement:
			inText = false
		}
	}
}

func TestRenderSVG_BarsAreToScaleAndLabelled(t *testing.T) {
	res, modes, workloads := fakeResults()
	rep := newReport(res, modes, workloads, defaults(false))
	rep.Command = `go run ./bench -target "xds:///a<b>&c"` // escaped, not markup
	doc := renderSVG(rep)
	rects, texts := svgElements(t, doc)

	all := strings.Join(texts, "\n")
	for _, want := range []string{"bare client", "mesh intercept", "intercept + tracing (no-op processor)", "sync send, 1 KiB", "async send, 1 KiB, bounded in flight", "0.90×", `xds:///a<b>&c`, "p50 100", "p99 120"} {
		if !strings.Contains(all, want) {
			t.Errorf("the chart has no text %q", want)
		}
	}
	// The first bar of each mode's colour is its sync throughput ratio:
	// bare 1.0, intercept 0.9.
	width := func(mode string) float64 {
		for _, r := range rects {
			if r["fill"] == modeColors[mode] && r["fill-opacity"] == "0.90" {
				w, err := strconv.ParseFloat(r["width"], 64)
				if err != nil {
					t.Fatalf("bar width %q: %v", r["width"], err)
				}
				return w
			}
		}
		t.Fatalf("no bar of mode %s", mode)
		return 0
	}
	if bare, icpt := width("bare"), width("intercept"); bare <= 0 || icpt/bare < 0.89 || icpt/bare > 0.91 {
		t.Errorf("intercept's bar is %.1f wide against bare's %.1f: want 0.9 of it", icpt, bare)
	}
}

func TestRenderSVG_MissingFigures(t *testing.T) {
	// A run of one mode has no ratios, and a workload without latencies no
	// latency panel: the chart still renders.
	res, _, workloads := fakeResults()
	rep := newReport(res, []modeSpec{modeSpecs[2]}, workloads, defaults(true))
	_, texts := svgElements(t, renderSVG(rep))
	if !strings.Contains(strings.Join(texts, "\n"), "not measured") {
		t.Error("a ratio that could not be measured is not marked so")
	}
}

func TestNiceMax(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.7: 1, 1: 1, 1.3: 2, 180: 200, 240: 250, 260: 500, 5001: 10000} {
		if got := niceMax(in); got != want {
			t.Errorf("niceMax(%v) = %v, want %v", in, got, want)
		}
	}
}
