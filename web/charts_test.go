package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
)

func TestPercentBar(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{40, `<rect class="fill" width="40" height="8" rx="2"/>`},
		{-5, `<rect class="fill" width="0" height="8" rx="2"/>`},
		{130, `<rect class="fill" width="100" height="8" rx="2"/>`},
		{33.333, `<rect class="fill" width="33.3" height="8" rx="2"/>`},
	} {
		got := string(percentBar(tc.in, "Progress"))
		if !strings.Contains(got, tc.want) || !strings.Contains(got, `preserveAspectRatio="none"`) {
			t.Errorf("percentBar(%v) = %s, want it to contain %s", tc.in, got, tc.want)
		}
		checkSVG(t, got)
	}
}

func TestBurnBars(t *testing.T) {
	// Bars are 130 px for 100 %: 62 % is 80.6 px, 45 % is 58.5 px.
	got := string(burnBars(f64(62), f64(45)))
	for _, w := range []string{
		`aria-label="Budget burned 62.0% against time elapsed 45.0%"`,
		`<rect class="fill-burn" x="70" y="2" width="80.6" height="11" rx="2"/>`,
		`<rect class="fill-time" x="70" y="21" width="58.5" height="11" rx="2"/>`,
		`class="lbl">burned</text>`, `class="lbl">elapsed</text>`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("burnBars lacks %s:\n%s", w, got)
		}
	}
	// Unknown ratios draw no bar and say so.
	got = string(burnBars(nil, f64(120)))
	if strings.Contains(got, "fill-burn") || !strings.Contains(got, `class="val">unknown</text>`) || !strings.Contains(got, `width="130" height="11" rx="2"/><text x="206" y="30" class="val">120.0%`) {
		t.Errorf("burnBars(nil, 120) = %s", got)
	}
	checkSVG(t, got)
}

func TestTimeline(t *testing.T) {
	rows := []timelineRow{
		{Title: "Interfaces live", Baseline: "2026-11-01", Due: "2026-11-15", Status: "due soon"},
		{Title: "Training plan", Due: "", Status: "open"},
	}
	got := string(timeline(rows, "2026-11-10"))
	checkSVG(t, got)
	// Days 20758 (2026-11-01) to 20772 (2026-11-15), padded by 7 on each
	// side: 20751..20779 over 290..660 px, 370/28 px a day. Baseline x =
	// 290 + 7·370/28 = 382.5; due x = 290 + 21·370/28 = 567.5; today
	// (20767) x = 290 + 16·370/28 = 501.4, its line from 22 − 8 down to
	// the axis at 92 − 18. The first row's middle is y = 22 + 12 = 34.
	for _, w := range []string{
		`aria-label="Milestone timeline: 2 milestones, 1 moved from their baseline due date; today is 2026-11-10"`,
		`<line class="today" x1="501.4" y1="14" x2="501.4" y2="74"/>`,
		`<g class="ms soon"><title>Interfaces live: due soon, due 2026-11-15 (baseline 2026-11-01, moved +14 days)</title>`,
		`<line class="slip" x1="382.5" y1="34" x2="567.5" y2="34"/>`,
		`<path class="baseline" d="M382.5 29L387.5 34L382.5 39L377.5 34Z"/>`,
		`<path class="due" d="M567.5 28L573.5 34L567.5 40L561.5 34Z"/>`,
		`<text class="tick" x="382.5" y="88" text-anchor="middle">Nov 2026</text>`,
		`class="val">due soon, +14 d</text>`,
		`<g class="ms open"><title>Training plan: open</title>`,
		`class="val">no due date</text>`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("timeline lacks %s:\n%s", w, got)
		}
	}
	// A hostile title is text, never markup.
	got = string(timeline([]timelineRow{{Title: `<b onmouseover="x">`, Due: "2026-11-15", Status: "late"}}, "2026-11-20"))
	if strings.Contains(got, "<b ") || !strings.Contains(got, "&lt;b onmouseover=&#34;x&#34;&gt;") {
		t.Errorf("timeline did not escape a title:\n%s", got)
	}
	checkSVG(t, got)
}

func TestTrendChart(t *testing.T) {
	// Counts 2 then 6: the axis runs to 8 (a multiple of four), 102 px
	// tall from y = 116: 2 → 90.5, 6 → 39.5; x from 44 to 288.
	got := string(trendChart("Late milestones", "", []trendPoint{{"2026-11-01", 2}, {"2026-11-08", 6}}))
	checkSVG(t, got)
	for _, w := range []string{
		`aria-label="Late milestones from 2026-11-01 to 2026-11-08: 2 then, 6 now"`,
		`<polyline points="44,90.5 288,39.5"/>`,
		`text-anchor="end">8</text>`, `text-anchor="end">6</text>`, `text-anchor="end">0</text>`,
		`>2026-11-01</text>`, `>2026-11-08</text>`, `>as-of date</text>`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("trend lacks %s:\n%s", w, got)
		}
	}
	// Percentages run to 100 whatever the values.
	got = string(trendChart("Progress", "%", []trendPoint{{"2026-11-01", 10}, {"2026-11-08", 20}}))
	if !strings.Contains(got, `text-anchor="end">100%</text>`) || !strings.Contains(got, `<polyline points="44,105.8 288,95.6"/>`) {
		t.Errorf("percent trend:\n%s", got)
	}
	if got := string(trendChart("Progress", "%", nil)); !strings.Contains(got, "No history yet.") {
		t.Errorf("empty trend = %s", got)
	}
}

func TestBurnChartScales(t *testing.T) {
	got := string(burnChart("2026-01-01", "2026-12-31", "2026-07-01", 1000000, []burnPoint{{"2026-07-01", 400000}}, nil, "EUR"))
	checkSVG(t, got)
	// No forecast: the money axis runs to the plan, 1M; ticks at quarters.
	for _, w := range []string{">250k</text>", ">500k</text>", ">1M</text>", ">spent (EUR)</text>", ">planned 1M</text>", ">actual 400k</text>"} {
		if !strings.Contains(got, w) {
			t.Errorf("burn chart lacks %s", w)
		}
	}
	if strings.Contains(got, "forecast") {
		t.Errorf("burn chart draws a forecast it was not given")
	}
}

func TestScaleHelpers(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{0, 1}, {1, 1}, {1.2, 2}, {2.2, 2.5}, {7, 10}, {100, 100}, {2500000, 2500000}, {3875000.63, 5000000},
	} {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{2500000, "2.5M"}, {1250000, "1.25M"}, {1550000.25, "1.55M"}, {750000, "750k"}, {900, "900"}, {0, "0"},
	} {
		if got := shortMoney(tc.in); got != tc.want {
			t.Errorf("shortMoney(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// 2026-01-05 to 2026-12-18 holds eleven month starts, February to
	// December: thinned to every second one.
	var labels []string
	for _, tk := range monthTicks(day("2026-01-05"), day("2026-12-18")) {
		labels = append(labels, tk.label)
	}
	if diff := cmp.Diff([]string{"Feb 2026", "Apr 2026", "Jun 2026", "Aug 2026", "Oct 2026", "Dec 2026"}, labels); diff != "" {
		t.Errorf("month ticks (-want +got):\n%s", diff)
	}
}

func TestRanked(t *testing.T) {
	rep := pmsync.Report{
		Programs: []pmsync.Rollup{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}},
		// The rollup's ranking; d is not in it (a report assembled by hand).
		Portfolio: pmsync.Portfolio{Attention: []pmsync.Attention{{Program: "c"}, {Program: "a"}, {Program: "gone"}, {Program: "b"}}},
	}
	var got []string
	for _, r := range ranked(rep) {
		got = append(got, r.ID)
	}
	if diff := cmp.Diff([]string{"c", "a", "b", "d"}, got); diff != "" {
		t.Errorf("ranking (-want +got):\n%s", diff)
	}
}

func TestTimelineRows(t *testing.T) {
	ref := func(id string, due pmsync.Date) pmsync.ItemRef {
		return pmsync.ItemRef{Source: "s", ExternalID: id, Title: id, Due: due}
	}
	r := pmsync.Rollup{
		Late:    []pmsync.ItemRef{ref("late", "2026-11-01")},
		DueSoon: []pmsync.ItemRef{ref("soon", "2026-11-20"), ref("risky", "2026-11-25")},
		NextMilestones: []pmsync.Milestone{
			{ItemRef: ref("soon", "2026-11-20"), State: pmsync.MilestoneDueSoon},
			{ItemRef: ref("risky", "2026-11-25"), State: pmsync.MilestoneAtRisk, Baseline: "2026-11-10", Forecast: &pmsync.Forecast{P50: "2026-11-28", P85: "2026-12-05"}},
			{ItemRef: ref("later", "2027-02-01"), State: pmsync.MilestoneOnTrack},
		},
		Slips: []pmsync.Slip{{ItemRef: ref("risky", "2026-11-25"), Baseline: "2026-11-10", Days: 15}, {ItemRef: ref("far", "2027-06-01"), Baseline: "2027-05-01", Days: 31}},
	}
	want := []timelineRow{
		{Title: "late", Due: "2026-11-01", Status: "late"},
		{Title: "soon", Due: "2026-11-20", Status: "due soon"},
		{Title: "risky", Due: "2026-11-25", Status: "at risk", Baseline: "2026-11-10", P50: "2026-11-28", P85: "2026-12-05"},
		{Title: "later", Due: "2027-02-01", Status: "on track"},
		{Title: "far", Due: "2027-06-01", Status: "open", Baseline: "2027-05-01"},
	}
	if diff := cmp.Diff(want, timelineRows(r)); diff != "" {
		t.Errorf("timeline rows (-want +got):\n%s", diff)
	}
}

func TestMatrixZones(t *testing.T) {
	m := pmsync.RiskMatrix{Cells: []pmsync.RiskCell{{Likelihood: 5, Impact: 3, Risks: 2}, {Likelihood: 2, Impact: 4, Risks: 1}}}
	rows := matrixRows(m, 15)
	if len(rows) != 5 || rows[0][0].Likelihood != 5 || rows[4][0].Likelihood != 1 || rows[0][4].Impact != 5 {
		t.Fatalf("matrix is not laid out likelihood 5 on top, impact 1..5 left to right")
	}
	cell := func(l, i int) matrixCell { return rows[5-l][i-1] }
	for _, tc := range []struct {
		l, i, risks int
		zone        string
	}{
		{5, 3, 2, "red flag"}, // 15: at the red-flag score
		{3, 5, 0, "red flag"},
		{2, 4, 1, "watch"}, // 8: at least half of 15
		{4, 2, 0, "watch"},
		{2, 3, 0, "low"}, // 6
		{1, 1, 0, "low"},
	} {
		if c := cell(tc.l, tc.i); c.Risks != tc.risks || c.Zone != tc.zone || c.Score != tc.l*tc.i {
			t.Errorf("cell %d×%d = %+v, want %d risks in %s", tc.l, tc.i, c, tc.risks, tc.zone)
		}
	}
}

func TestKeepRows(t *testing.T) {
	rows := func(status string, n int, from pmsync.Date) []timelineRow {
		var out []timelineRow
		for i := range n {
			out = append(out, timelineRow{Title: fmt.Sprintf("%s%d", status, i+1), Due: from.AddDays(i), Status: status})
		}
		return out
	}
	titles := func(rs []timelineRow) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Title)
		}
		return strings.Join(out, " ")
	}
	sorted := func(rs ...[]timelineRow) []timelineRow {
		var all []timelineRow
		for _, r := range rs {
			all = append(all, r...)
		}
		return all
	}
	// 10 late (due 2026-01-01..10) then 20 others (from 2026-02-01): at
	// most 24, of which 8 late, the most recently due: late3..late10.
	got := keepRows(sorted(rows("late", 10, "2026-01-01"), rows("soon", 20, "2026-02-01")), 24)
	want := "late3 late4 late5 late6 late7 late8 late9 late10 " +
		"soon1 soon2 soon3 soon4 soon5 soon6 soon7 soon8 soon9 soon10 soon11 soon12 soon13 soon14 soon15 soon16"
	if titles(got) != want {
		t.Errorf("keepRows = %s\nwant %s", titles(got), want)
	}
	// 30 late and 2 others: the late fill what the others leave, 22.
	got = keepRows(sorted(rows("late", 30, "2026-01-01"), rows("soon", 2, "2026-03-01")), 24)
	if len(got) != 24 || got[0].Title != "late9" || got[21].Title != "late30" || got[23].Title != "soon2" {
		t.Errorf("keepRows = %s", titles(got))
	}
	// Few enough: all, untouched.
	few := rows("late", 3, "2026-01-01")
	if got := keepRows(few, 24); titles(got) != "late1 late2 late3" {
		t.Errorf("keepRows of 3 = %s", titles(got))
	}
}

func TestNewFigureListsAPageful(t *testing.T) {
	var refs []pmsync.ItemRef
	for i := range 30 {
		refs = append(refs, pmsync.ItemRef{ExternalID: fmt.Sprint(i)})
	}
	f := newFigure("Late milestones", 31, refs)
	if len(f.Items) != 25 || f.More != 5 || f.Count != 31 || f.Items[24].ExternalID != "24" {
		t.Errorf("figure lists %d, %d more, count %d", len(f.Items), f.More, f.Count)
	}
	if f := newFigure("None", 0, nil); len(f.Items) != 0 || f.More != 0 {
		t.Errorf("empty figure = %+v", f)
	}
}
