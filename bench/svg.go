package main

import (
	"fmt"
	"math"
	"strings"
)

// The chart's palette: one colour per mode, in modeSpecs order (Tableau 10,
// which stays apart for the common colour-vision deficiencies).
var modeColors = map[string]string{
	"bare":         "#79706e",
	"direct":       "#4e79a7",
	"intercept":    "#f28e2b",
	"traced-noop":  "#59a14f",
	"traced-batch": "#b07aa1",
}

// Chart geometry, in SVG user units (pixels at 100%).
const (
	chartWidth = 1000
	labelWidth = 250 // left column: workload and mode names
	plotLeft   = labelWidth + 10
	plotRight  = chartWidth - 120 // room for the value labels ("1.53× 40,522 msg/s")
	barHeight  = 13
	barGap     = 3
	groupGap   = 18
	groupTitle = 16 // a workload's name above its bars
)

// svgDoc accumulates the elements of the chart.
type svgDoc struct {
	b strings.Builder
	y float64 // where the next element goes
}

func (d *svgDoc) add(format string, args ...any) {
	fmt.Fprintf(&d.b, format, args...)
	d.b.WriteByte('\n')
}

func (d *svgDoc) text(x, y float64, anchor, class, s string) {
	d.add(`<text x="%.1f" y="%.1f" text-anchor="%s" class="%s">%s</text>`, x, y, anchor, class, xmlEscape(s))
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// scale maps [0, max] onto the plot's x range.
type scale struct{ max float64 }

func (s scale) x(v float64) float64 {
	v = math.Max(0, math.Min(v, s.max))
	return plotLeft + (plotRight-plotLeft)*v/s.max
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten, for an axis.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// axis draws vertical grid lines with labels from 0 to s.max over a panel of
// the given height, below the panel's top at top.
func (d *svgDoc) axis(s scale, top, height float64, ticks int, format string) {
	for i := 0; i <= ticks; i++ {
		v := s.max * float64(i) / float64(ticks)
		x := s.x(v)
		d.add(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>`, x, top, x, top+height)
		d.text(x, top+height+14, "middle", "tick", fmt.Sprintf(format, v))
	}
}

// bar draws one horizontal bar for sp's median with a whisker from its min to
// its max, and the median's value at the right.
func (d *svgDoc) bar(s scale, y float64, sp *spread, color string, opacity float64, label string) {
	if sp == nil {
		d.text(plotLeft+4, y+barHeight-3, "start", "value", "not measured")
		return
	}
	x0, x1 := s.x(0), s.x(sp.Median)
	d.add(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s" fill-opacity="%.2f"/>`, x0, y, math.Max(x1-x0, 1), barHeight, color, opacity)
	lo, hi, mid := s.x(sp.Min), s.x(sp.Max), y+barHeight/2.0
	if hi-lo >= 1 {
		d.add(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="whisker"/>`, lo, mid, hi, mid)
		d.add(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="whisker"/>`, lo, y+2, lo, y+barHeight-2)
		d.add(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="whisker"/>`, hi, y+2, hi, y+barHeight-2)
	}
	d.text(math.Max(x1, hi)+5, y+barHeight-3, "start", "value", label)
}

// renderSVG draws the report: throughput relative to the bare client per
// workload and mode, and the p50 and p99 latencies of the latency workloads,
// each as the median of the rounds with the lowest and highest round as a
// whisker.
func renderSVG(r *report) string {
	d := &svgDoc{}
	d.y = 34
	d.text(20, d.y, "start", "title", "rmqmesh: what the mesh costs the official RocketMQ Go client")
	d.y += 20
	sub := fmt.Sprintf("%s, %d CPUs, %s · %d rounds, modes interleaved · bars: median of the rounds; whiskers: lowest–highest round",
		r.Machine.OS+"/"+r.Machine.Arch, r.Machine.CPUs, r.Machine.GoVersion, r.Settings.Rounds)
	d.text(20, d.y, "start", "sub", sub)
	d.y += 16
	cmd := r.Command
	if r.Machine.LoadStart != nil {
		cmd += " · load average " + loadString(r.Machine.LoadStart) + " at the start"
	}
	d.text(20, d.y, "start", "sub", cmd)
	d.y += 22
	d.legend(r)

	// Throughput relative to the bare client.
	d.y += 30
	d.text(20, d.y, "start", "head", "Throughput relative to the bare client (messages/s ÷ bare messages/s, per round)")
	d.y += 12
	maxRatio := 1.2
	for _, w := range r.Workloads {
		for _, m := range w.Modes {
			if m.VsBare != nil && m.VsBare.Throughput != nil {
				maxRatio = math.Max(maxRatio, m.VsBare.Throughput.Max)
			}
		}
	}
	s := scale{max: math.Ceil(maxRatio*5) / 5}
	top := d.y
	height := d.groupsHeight(len(r.Workloads), len(r.Modes))
	d.axis(s, top, height, int(math.Round(s.max/0.2)), "%.1f")
	one := s.x(1)
	d.add(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="ref"/>`, one, top, one, top+height)
	for _, w := range r.Workloads {
		d.y += groupGap / 2
		d.text(20, d.y+barHeight-3, "start", "group", w.Title)
		d.y += groupTitle
		for _, m := range w.Modes {
			d.text(labelWidth, d.y+barHeight-3, "end", "mode", r.label(m.Mode))
			sp := &spread{Median: 1, Min: 1, Max: 1}
			if m.Mode != "bare" {
				sp = nil
				if m.VsBare != nil {
					sp = m.VsBare.Throughput
				}
			}
			label := ""
			if sp != nil {
				label = fmt.Sprintf("%.2f×", sp.Median)
				if f := m.Summary.MsgsPerS; f != nil {
					label += fmt.Sprintf("  %s msg/s", thousands(f.Median))
				}
			}
			d.bar(s, d.y, sp, modeColors[m.Mode], 0.9, label)
			d.y += barHeight + barGap
		}
		d.y += groupGap / 2
	}
	d.y = top + height + 34

	// Latencies.
	for _, w := range r.Workloads {
		if w.Op == "" || w.Name == "async" { // async latencies are queueing behind the window
			continue
		}
		d.text(20, d.y, "start", "head", fmt.Sprintf("%s: latency of one %s, µs (solid: p50, pale: p99)", w.Title, w.Op))
		d.y += 12
		// The scale fits the p50s and the typical p99: one mode's (or one
		// round's) outlier runs off the edge rather than squash every bar.
		var p50s, p99s []float64
		for _, m := range w.Modes {
			if m.Summary.P50 != nil {
				p50s = append(p50s, m.Summary.P50.Median)
			}
			if m.Summary.P99 != nil {
				p99s = append(p99s, m.Summary.P99.Median)
			}
		}
		maxLat := 0.0
		if sp := spreadOf(p50s); sp != nil {
			maxLat = sp.Max * 1.25
		}
		if sp := spreadOf(p99s); sp != nil {
			maxLat = math.Max(maxLat, sp.Median*1.6)
		}
		s := scale{max: niceMax(maxLat)}
		top := d.y
		height := float64(len(w.Modes))*(2*barHeight+barGap+6) + 6
		d.axis(s, top, height, 5, "%.0f")
		d.y += 6
		for _, m := range w.Modes {
			d.text(labelWidth, d.y+barHeight+1, "end", "mode", r.label(m.Mode))
			label := func(sp *spread, what string) string {
				if sp == nil {
					return ""
				}
				return fmt.Sprintf("%s %.0f", what, sp.Median)
			}
			d.bar(s, d.y, m.Summary.P50, modeColors[m.Mode], 0.9, label(m.Summary.P50, "p50"))
			d.bar(s, d.y+barHeight+barGap/2, m.Summary.P99, modeColors[m.Mode], 0.35, label(m.Summary.P99, "p99"))
			d.y += 2*barHeight + barGap + 6
		}
		d.y = top + height + 34
	}

	var out strings.Builder
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%.0f" viewBox="0 0 %d %.0f" role="img" font-family="Helvetica, Arial, sans-serif">`+"\n",
		chartWidth, d.y, chartWidth, d.y)
	out.WriteString(`<title>rmqmesh benchmark: throughput ratio to the bare client and latency per mode</title>
<style>
.title { font-size: 18px; font-weight: bold; fill: #222 }
.sub { font-size: 11px; fill: #555 }
.head { font-size: 13px; font-weight: bold; fill: #222 }
.group { font-size: 12px; font-weight: bold; fill: #333 }
.mode { font-size: 11px; fill: #333 }
.value { font-size: 10px; fill: #333 }
.tick { font-size: 10px; fill: #777 }
.grid { stroke: #e3e3e3; stroke-width: 1 }
.ref { stroke: #444; stroke-width: 1; stroke-dasharray: 4 3 }
.whisker { stroke: #222; stroke-width: 1 }
</style>
<rect width="100%" height="100%" fill="#fff"/>
`)
	out.WriteString(d.b.String())
	out.WriteString("</svg>\n")
	return out.String()
}

// groupsHeight is the height of the throughput panel.
func (d *svgDoc) groupsHeight(groups, modes int) float64 {
	return float64(groups) * (float64(modes)*(barHeight+barGap) + groupGap + groupTitle)
}

// legend draws one swatch per mode with its description.
func (d *svgDoc) legend(r *report) {
	for _, m := range r.Modes {
		d.add(`<rect x="20" y="%.1f" width="12" height="12" fill="%s"/>`, d.y-10, modeColors[m.Name])
		d.text(38, d.y, "start", "mode", m.Label+": "+m.About)
		d.y += 16
	}
}
