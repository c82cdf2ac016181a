package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/pmsync/pmsync"
)

// The charts are inline SVG written by hand: a page must read without
// scripts, work offline and print, and no charting library renders
// server-side SVG with <title> and aria-label on every chart. Every chart
// is an <svg role="img"> with an aria-label summing it up and a <title>;
// marks carry their own <title> (a tooltip on screen, read by screen
// readers), and every colour is repeated by a word or a shape.

// svgBuilder collects SVG markup; every text it writes is escaped.
type svgBuilder struct{ strings.Builder }

func (b *svgBuilder) f(format string, args ...any) { fmt.Fprintf(&b.Builder, format, args...) }

// text escapes s for SVG text and attribute values.
func text(s string) string { return template.HTMLEscapeString(s) }

// open writes the root element with its accessible name.
func (b *svgBuilder) open(class string, w, h float64, label string) {
	b.f(`<svg class="%s" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`,
		class, num(w), num(h), num(w), num(h), text(label), text(label))
}

// openBar writes the root element of a bar that stretches to the width
// the page gives it.
func (b *svgBuilder) openBar(class string, label string) {
	b.f(`<svg class="%s" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg"><title>%s</title>`,
		class, text(label), text(label))
}

func (b *svgBuilder) close() template.HTML {
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every dynamic value above went through text or num
}

// num writes a coordinate with at most one decimal.
func num(f float64) string {
	s := fmt.Sprintf("%.1f", f)
	return strings.TrimSuffix(s, ".0")
}

// linear maps a domain onto a range.
type linear struct{ d0, d1, r0, r1 float64 }

func (l linear) at(v float64) float64 {
	if l.d1 == l.d0 {
		return (l.r0 + l.r1) / 2
	}
	return l.r0 + (v-l.d0)*(l.r1-l.r0)/(l.d1-l.d0)
}

// day is a date as a number of days, for date axes.
func day(d pmsync.Date) float64 {
	t := d.Time()
	if t.IsZero() {
		return math.NaN()
	}
	return math.Floor(float64(t.Unix()) / 86400)
}

// percentBar is a horizontal bar for a share in percent, clamped to 0..100.
func percentBar(percent float64, label string) template.HTML {
	var b svgBuilder
	b.openBar("bar", label)
	w := math.Max(0, math.Min(100, percent))
	b.f(`<rect class="track" width="100" height="8" rx="2"/><rect class="fill" width="%s" height="8" rx="2"/>`, num(w))
	return b.close()
}

// burnBars compares the budget burned with the time elapsed: two bars on
// one 0–100 % scale, each named in text beside it. Either may be unknown.
func burnBars(burn, elapsed *float64) template.HTML {
	label := "Budget burned " + pctText(burn) + " against time elapsed " + pctText(elapsed)
	var b svgBuilder
	const w, h, left, barW = 240.0, 36.0, 70.0, 130.0
	b.open("burnbars", w, h, label)
	x := linear{0, 100, left, left + barW}
	row := func(y float64, name, class string, p *float64) {
		b.f(`<text x="0" y="%s" class="lbl">%s</text>`, num(y+9), text(name))
		b.f(`<rect class="track" x="%s" y="%s" width="%s" height="11" rx="2"/>`, num(left), num(y), num(barW))
		if p != nil {
			b.f(`<rect class="%s" x="%s" y="%s" width="%s" height="11" rx="2"/>`, class, num(left), num(y), num(x.at(math.Max(0, math.Min(100, *p)))-left))
		}
		b.f(`<text x="%s" y="%s" class="val">%s</text>`, num(left+barW+6), num(y+9), text(pctText(p)))
	}
	row(2, "burned", "fill-burn", burn)
	row(21, "elapsed", "fill-time", elapsed)
	return b.close()
}

// timelineRow is one milestone on the timeline.
type timelineRow struct {
	Title    string
	Baseline pmsync.Date // the first due date seen; "" when unknown
	Due      pmsync.Date
	Status   string // late | at risk | due soon | on track | open | no date
	// P50 and P85 are the forecast completion dates; "" without a forecast.
	P50, P85 pmsync.Date
}

// timeline draws milestones as rows on a date axis: the baseline due date
// as a hollow diamond, the current one as a filled diamond, a line between
// them when the milestone slipped, and today as a dashed line. Each row is
// named and its status written out beside the diamonds.
func timeline(rows []timelineRow, today pmsync.Date) template.HTML {
	const w, left, right, top, rowH = 760.0, 290.0, 100.0, 22.0, 24.0
	h := top + rowH*float64(max(len(rows), 1)) + 22
	slipped := 0
	for _, r := range rows {
		if !r.Baseline.IsZero() && r.Baseline != r.Due {
			slipped++
		}
	}
	label := fmt.Sprintf("Milestone timeline: %d milestones, %d moved from their baseline due date; today is %s", len(rows), slipped, today)
	var b svgBuilder
	b.open("timeline", w, h, label)
	if len(rows) == 0 {
		b.f(`<text x="0" y="%s" class="lbl">No milestones to show.</text>`, num(top))
		return b.close()
	}
	lo, hi := day(today), day(today)
	for _, r := range rows {
		for _, d := range []pmsync.Date{r.Baseline, r.Due, r.P50, r.P85} {
			if v := day(d); !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	pad := math.Max(7, (hi-lo)*0.04)
	x := linear{lo - pad, hi + pad, left, w - right}
	// Month ticks along the bottom, today's label on top: they never meet.
	bottom := h - 18
	dateAxis(&b, x, lo-pad, hi+pad, top-4, bottom, h-4)
	tx := x.at(day(today))
	b.f(`<line class="today" x1="%s" y1="%s" x2="%s" y2="%s"/><text class="today-lbl" x="%s" y="10" text-anchor="middle">today %s</text>`,
		num(tx), num(top-8), num(tx), num(bottom), num(tx), text(string(today)))
	for i, r := range rows {
		y := top + rowH*float64(i) + rowH/2
		b.f(`<g class="ms %s">`, statusClass(r.Status))
		b.f(`<title>%s</title>`, text(milestoneSummary(r)))
		b.f(`<text x="0" y="%s" class="lbl">%s</text>`, num(y+4), text(clip(r.Title, 46)))
		cur := day(r.Due)
		if math.IsNaN(cur) {
			b.f(`<text x="%s" y="%s" class="val">no due date</text></g>`, num(left), num(y+4))
			continue
		}
		cx := x.at(cur)
		if base := day(r.Baseline); !math.IsNaN(base) && base != cur {
			bx := x.at(base)
			b.f(`<line class="slip" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(bx), num(y), num(cx), num(y))
			b.f(`<path class="baseline" d="%s"/>`, diamond(bx, y, 5))
		}
		if p50, p85 := day(r.P50), day(r.P85); !math.IsNaN(p50) && !math.IsNaN(p85) {
			// The forecast: a bar from p50 to p85 under the row's diamond.
			b.f(`<line class="fc" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(x.at(p50)), num(y+8), num(x.at(math.Max(p50, p85))+1), num(y+8))
		}
		b.f(`<path class="due" d="%s"/>`, diamond(cx, y, 6))
		b.f(`<text x="%s" y="%s" class="val">%s</text></g>`, num(w-right+6), num(y+4), text(rowStatus(r)))
	}
	return b.close()
}

func diamond(x, y, r float64) string {
	return fmt.Sprintf("M%s %sL%s %sL%s %sL%s %sZ", num(x), num(y-r), num(x+r), num(y), num(x), num(y+r), num(x-r), num(y))
}

func statusClass(s string) string {
	switch s {
	case "late":
		return "late"
	case "due soon", "at risk":
		return "soon"
	case "done":
		return "done"
	}
	return "open"
}

// rowStatus is the words beside a timeline row: its status and any slip.
func rowStatus(r timelineRow) string {
	s := r.Status
	if d := slipDays(r); d != 0 {
		s += fmt.Sprintf(", %+d d", d)
	}
	return s
}

func slipDays(r timelineRow) int {
	if r.Baseline.IsZero() || r.Due.IsZero() {
		return 0
	}
	return r.Baseline.DaysUntil(r.Due)
}

func milestoneSummary(r timelineRow) string {
	s := r.Title + ": " + r.Status
	if !r.Due.IsZero() {
		s += ", due " + string(r.Due)
	}
	if d := slipDays(r); d != 0 {
		s += fmt.Sprintf(" (baseline %s, moved %+d days)", r.Baseline, d)
	}
	if r.P85 != "" {
		s += fmt.Sprintf("; forecast p50 %s, p85 %s", r.P50, r.P85)
	}
	return s
}

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// dateAxis writes month ticks between two days: grid lines from y0 to y1
// and their labels at labelY.
func dateAxis(b *svgBuilder, x linear, from, to, y0, y1, labelY float64) {
	for _, t := range monthTicks(from, to) {
		tx := x.at(t.day)
		b.f(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(tx), num(y0), num(tx), num(y1))
		b.f(`<text class="tick" x="%s" y="%s" text-anchor="middle">%s</text>`, num(tx), num(labelY), text(t.label))
	}
}

type tick struct {
	day   float64
	label string
}

// monthTicks returns the first days of months between two days, thinned
// to at most eight ticks.
func monthTicks(from, to float64) []tick {
	if math.IsNaN(from) || math.IsNaN(to) || to <= from {
		return nil
	}
	start := pmsync.Date(dateOfDay(from)).Time()
	var all []tick
	for m := start.AddDate(0, 0, 1-start.Day()); ; m = m.AddDate(0, 1, 0) {
		d := math.Floor(float64(m.Unix()) / 86400)
		if d > to {
			break
		}
		if d >= from {
			all = append(all, tick{d, m.Format("Jan 2006")})
		}
	}
	step := (len(all) + 7) / 8
	if step <= 1 {
		return all
	}
	var out []tick
	for i := 0; i < len(all); i += step {
		out = append(out, all[i])
	}
	return out
}

func dateOfDay(d float64) string {
	return pmsync.DateOf(pmsync.Date("1970-01-01").Time().AddDate(0, 0, int(d))).String()
}

// burnPoint is the amount spent by one date.
type burnPoint struct {
	Date   pmsync.Date
	Actual float64
}

// burnChart draws the money spent over the program's time: the plan as a
// straight line from nothing at the start to the planned budget at the
// end, the actual spending from the rollup history, today, and the
// forecast at completion when there is one.
func burnChart(start, end, today pmsync.Date, planned float64, actual []burnPoint, forecast *float64, currency string) template.HTML {
	const w, h, left, right, top, bottom = 520.0, 250.0, 58.0, 96.0, 16.0, 40.0
	var b svgBuilder
	s0, s1 := day(start), day(end)
	if math.IsNaN(s0) || math.IsNaN(s1) || s1 <= s0 {
		b.open("burn", w, 40, "Budget burn over time: the program has no start and end dates to chart against")
		b.f(`<text x="0" y="24" class="lbl">No program dates: the burn cannot be charted over time.</text>`)
		return b.close()
	}
	var last burnPoint
	if len(actual) > 0 {
		last = actual[len(actual)-1]
	}
	label := fmt.Sprintf("Budget burn over time: %s of %s planned spent by %s; the plan is a straight line from %s to %s",
		moneyText(last.Actual, currency), moneyText(planned, currency), last.Date, start, end)
	if forecast != nil {
		label += "; forecast at completion " + moneyText(*forecast, currency)
	}
	b.open("burn", w, h, label)
	top1 := math.Max(planned, last.Actual)
	for _, p := range actual {
		top1 = math.Max(top1, p.Actual)
	}
	if forecast != nil {
		top1 = math.Max(top1, *forecast)
	}
	if top1 <= 0 {
		top1 = 1
	}
	top1 = niceCeil(top1)
	x := linear{s0, s1, left, w - right}
	y := linear{0, top1, h - bottom, top}
	// Axes and grid: five money ticks, month ticks along the bottom.
	for i := 0; i <= 4; i++ {
		v := top1 * float64(i) / 4
		ty := y.at(v)
		b.f(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(left), num(ty), num(w-right), num(ty))
		b.f(`<text class="tick" x="%s" y="%s" text-anchor="end">%s</text>`, num(left-6), num(ty+4), text(shortMoney(v)))
	}
	for _, t := range monthTicks(s0, s1) {
		tx := x.at(t.day)
		b.f(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(tx), num(top), num(tx), num(h-bottom))
		b.f(`<text class="tick" x="%s" y="%s" text-anchor="middle">%s</text>`, num(tx), num(h-bottom+14), text(t.label))
	}
	b.f(`<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(left), num(h-bottom), num(w-right), num(h-bottom))
	b.f(`<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(left), num(top), num(left), num(h-bottom))
	b.f(`<text class="axis-title" x="%s" y="%s" text-anchor="middle">date</text>`, num((left+w-right)/2), num(h-4))
	b.f(`<text class="axis-title" x="12" y="%s" text-anchor="middle" transform="rotate(-90 12 %s)">spent%s</text>`, num((top+h-bottom)/2), num((top+h-bottom)/2), text(currencySuffix(currency)))

	// The labels at the right end: the forecast's moves off the plan's
	// when they would overlap.
	planY := y.at(planned) + 4
	if planned > 0 {
		b.f(`<g class="plan"><title>Plan: %s spread evenly from %s to %s</title><line x1="%s" y1="%s" x2="%s" y2="%s"/>`,
			text(moneyText(planned, currency)), text(string(start)), text(string(end)), num(x.at(s0)), num(y.at(0)), num(x.at(s1)), num(y.at(planned)))
		b.f(`<text class="series-lbl" x="%s" y="%s">planned %s</text></g>`, num(w-right+6), num(planY), text(shortMoney(planned)))
	}
	t := math.Max(s0, math.Min(s1, day(today)))
	b.f(`<line class="today" x1="%s" y1="%s" x2="%s" y2="%s"/><text class="today-lbl" x="%s" y="%s" text-anchor="middle">today</text>`,
		num(x.at(t)), num(top), num(x.at(t)), num(h-bottom), num(x.at(t)), num(top-4))
	if len(actual) > 0 {
		var pts []string
		var lx, ly float64
		for _, p := range actual {
			lx, ly = x.at(math.Max(s0, math.Min(s1, day(p.Date)))), y.at(p.Actual)
			pts = append(pts, num(lx)+","+num(ly))
		}
		b.f(`<g class="actual"><title>Actual spending by %s: %s</title><polyline points="%s"/>`, text(string(last.Date)), text(moneyText(last.Actual, currency)), strings.Join(pts, " "))
		b.f(`<circle cx="%s" cy="%s" r="3.5"/>`, num(lx), num(ly))
		b.f(`<text class="series-lbl" x="%s" y="%s">actual %s</text></g>`, num(lx+6), num(ly-6), text(shortMoney(last.Actual)))
		if forecast != nil {
			b.f(`<g class="forecast"><title>Forecast at completion: %s</title><line x1="%s" y1="%s" x2="%s" y2="%s"/>`,
				text(moneyText(*forecast, currency)), num(lx), num(ly), num(x.at(s1)), num(y.at(*forecast)))
			fy := y.at(*forecast) + 4
			if planned > 0 && math.Abs(fy-planY) < 12 {
				if fy <= planY {
					fy = planY - 12
				} else {
					fy = planY + 12
				}
			}
			b.f(`<text class="series-lbl" x="%s" y="%s">forecast %s</text></g>`, num(w-right+6), num(fy), text(shortMoney(*forecast)))
		}
	}
	return b.close()
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten, so axis
// ticks at quarters read as round numbers.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// shortMoney writes an amount for an axis: 2.5M, 750k, 900.
func shortMoney(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return trimZero(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case a >= 1e3:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "k"
	}
	return trimZero(fmt.Sprintf("%.0f", v))
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func currencySuffix(c string) string {
	if c == "" {
		return ""
	}
	return " (" + c + ")"
}

func moneyText(v float64, currency string) string {
	s := pmsync.Money(v, 0)
	if currency != "" {
		s += " " + currency
	}
	return s
}

// trendPoint is one value of a trend, at the as-of date of a rollup.
type trendPoint struct {
	Date  pmsync.Date
	Value float64
}

// trendChart draws one series over time with a labelled value axis (from
// zero; up to 100 for percentages) and the first and last dates.
func trendChart(name, unit string, points []trendPoint) template.HTML {
	const w, h, left, right, top, bottom = 300.0, 150.0, 44.0, 12.0, 14.0, 34.0
	var b svgBuilder
	if len(points) == 0 {
		b.open("trend", w, 40, name+": no history yet")
		b.f(`<text x="0" y="24" class="lbl">No history yet.</text>`)
		return b.close()
	}
	first, last := points[0], points[len(points)-1]
	label := fmt.Sprintf("%s from %s to %s: %s then, %s now", name, first.Date, last.Date, valueText(first.Value, unit), valueText(last.Value, unit))
	if len(points) == 1 {
		label = fmt.Sprintf("%s on %s: %s; one rollup so far, no trend yet", name, last.Date, valueText(last.Value, unit))
	}
	b.open("trend", w, h, label)
	hi := 0.0
	for _, p := range points {
		hi = math.Max(hi, p.Value)
	}
	switch {
	case unit == "%":
		hi = 100
	case hi <= 40:
		// Counts: a multiple of four keeps the quarter ticks whole.
		hi = math.Max(4, math.Ceil(hi/4)*4)
	default:
		hi = niceCeil(hi)
	}
	d0, d1 := day(first.Date), day(last.Date)
	x := linear{d0, d1, left, w - right}
	if d1 == d0 {
		x = linear{d0 - 1, d0 + 1, left, w - right}
	}
	y := linear{0, hi, h - bottom, top}
	for i := 0; i <= 4; i++ {
		v := hi * float64(i) / 4
		b.f(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(left), num(y.at(v)), num(w-right), num(y.at(v)))
		b.f(`<text class="tick" x="%s" y="%s" text-anchor="end">%s</text>`, num(left-4), num(y.at(v)+4), text(valueText(v, unit)))
	}
	b.f(`<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(left), num(h-bottom), num(w-right), num(h-bottom))
	b.f(`<text class="tick" x="%s" y="%s" text-anchor="start">%s</text>`, num(left), num(h-bottom+13), text(string(first.Date)))
	if last.Date != first.Date {
		b.f(`<text class="tick" x="%s" y="%s" text-anchor="end">%s</text>`, num(w-right), num(h-bottom+13), text(string(last.Date)))
	}
	b.f(`<text class="axis-title" x="%s" y="%s" text-anchor="middle">as-of date</text>`, num((left+w-right)/2), num(h-3))
	var pts []string
	var lx, ly float64
	for _, p := range points {
		lx, ly = x.at(day(p.Date)), y.at(math.Max(0, p.Value))
		pts = append(pts, num(lx)+","+num(ly))
	}
	b.f(`<g class="series"><title>%s</title><polyline points="%s"/>`, text(label), strings.Join(pts, " "))
	b.f(`<circle cx="%s" cy="%s" r="3"/></g>`, num(lx), num(ly))
	return b.close()
}

// valueText writes a trend value: percentages with one decimal, counts
// whole.
func valueText(v float64, unit string) string {
	if unit == "%" {
		return trimZero(fmt.Sprintf("%.1f", v)) + "%"
	}
	return trimZero(fmt.Sprintf("%.1f", v))
}

func pctText(p *float64) string {
	if p == nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f%%", *p)
}

// healthBar shows how many programs are of each colour as one stacked
// bar; the counts are written beside it on the page as words.
func healthBar(h pmsync.HealthCounts) template.HTML {
	total := h.Red + h.Amber + h.Green
	label := fmt.Sprintf("Health of %s: %d red, %d amber, %d green", plural(total, "program"), h.Red, h.Amber, h.Green)
	var b svgBuilder
	b.openBar("bar health", label)
	b.f(`<rect class="track" width="100" height="8" rx="2"/>`)
	if total > 0 {
		x := 0.0
		for _, seg := range []struct {
			class string
			n     int
		}{{"red", h.Red}, {"amber", h.Amber}, {"green", h.Green}} {
			if seg.n == 0 {
				continue
			}
			w := 100 * float64(seg.n) / float64(total)
			b.f(`<rect class="seg-%s" x="%s" width="%s" height="8"><title>%d %s</title></rect>`, seg.class, num(x), num(w), seg.n, seg.class)
			x += w
		}
	}
	return b.close()
}
