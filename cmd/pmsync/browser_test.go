//go:build browser

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/pmsync/pmsync"
)

// The real-browser test: headless Chromium against `pmsync demo --serve`.
// Run it with
//
//	go test -tags browser -run TestBrowser ./cmd/pmsync
//
// It needs Debian's chromium (or PMSYNC_CHROMIUM naming a Chrome binary);
// screenshots and PDFs go to $PMSYNC_BROWSER_ARTIFACTS, else a temporary
// directory that the test names and keeps.

// demoPrograms are the programs of configs/demo.yaml, by id, with the
// source that feeds each.
var demoPrograms = map[string]struct{ name, source string }{
	"ehr-upgrade":       {"EHR Upgrade", "ehr-jira"},
	"telehealth-launch": {"Telehealth Launch", "telehealth-asana"},
	"pacs-viewer":       {"PACS Viewer Integration", "pacs-smartsheet"},
	"patient-portal":    {"Patient Portal Go-Live", "portal-trello"},
}

func TestBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	artifacts := os.Getenv("PMSYNC_BROWSER_ARTIFACTS")
	if artifacts == "" {
		dir, err := os.MkdirTemp("", "pmsync-browser-")
		if err != nil {
			t.Fatal(err)
		}
		artifacts = dir
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots and PDFs in %s", artifacts)
	save := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(artifacts, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	base := startDemo(t)
	// The expectations come from the engine's rollup document, which the
	// pages do not produce, and from configs/demo.yaml.
	var rollup pmsync.Report
	getJSON(t, base+"/api/v1/rollup", &rollup)
	if len(rollup.Programs) != len(demoPrograms) {
		t.Fatalf("the demo rolls up %d programs, want the %d of configs/demo.yaml", len(rollup.Programs), len(demoPrograms))
	}

	ctx := browser(t, chromium)
	console := chromedp.Events(ctx, log.EntryAdded)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)

	// The portfolio.
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("summary"))))
	save("portfolio.png", browse(t, ctx, chromedp.FullScreenshot(100)))

	var red, amber, green, late, flags, done, total int
	for _, r := range rollup.Programs {
		switch r.Health.Status {
		case pmsync.Red:
			red++
		case pmsync.Amber:
			amber++
		default:
			green++
		}
		late += r.Milestones.Late
		flags += r.Risks.RedFlags
		done += r.Progress.Done
		total += r.Progress.Total
	}
	band := browse(t, ctx, chromedp.Text(chromedp.ID("summary")))
	for _, want := range []string{
		fmt.Sprintf("%d red · %d amber · %d green", red, amber, green),
		fmt.Sprintf("%d of %d tasks and milestones done", done, total),
	} {
		if !strings.Contains(band, want) {
			t.Errorf("the summary band lacks %q:\n%s", want, band)
		}
	}
	if got := browse(t, ctx, chromedp.Text(chromedp.CSS("#sum-late .big"))); got != fmt.Sprint(late) {
		t.Errorf("late milestones in the band = %q, want %d", got, late)
	}
	if got := browse(t, ctx, chromedp.Text(chromedp.CSS("#sum-flags .big"))); got != fmt.Sprint(flags) {
		t.Errorf("red-flag risks in the band = %q, want %d", got, flags)
	}

	type card struct {
		ID, Title, Badge, Class, Href, Fresh, Text string
	}
	cards := browse(t, ctx, chromedp.Evaluate[[]card](`[...document.querySelectorAll("article.card")].map(a => ({
		ID: a.id, Title: a.querySelector("h3").innerText, Badge: a.querySelector(".badge").innerText,
		Class: a.className, Href: a.querySelector("h3 a").getAttribute("href"),
		Fresh: a.querySelector(".fresh").innerText, Text: a.innerText}))`))
	if len(cards) != len(demoPrograms) {
		t.Fatalf("the portfolio shows %d program cards, want %d", len(cards), len(demoPrograms))
	}
	byID := map[string]pmsync.Rollup{}
	for _, r := range rollup.Programs {
		byID[r.ID] = r
	}
	prevSeverity := 3
	for i, c := range cards {
		id := strings.TrimPrefix(c.ID, "program-")
		want, ok := demoPrograms[id]
		r := byID[id]
		if !ok {
			t.Errorf("card %s is not a demo program", c.ID)
			continue
		}
		if !strings.Contains(c.Title, want.name) || c.Href != "/programs/"+id || !strings.HasPrefix(c.Title, fmt.Sprintf("%d.", i+1)) {
			t.Errorf("card %d = %q linking %q, want %d. %s linking /programs/%s", i, c.Title, c.Href, i+1, want.name, id)
		}
		// The colour is never the only signal: the word is written.
		if c.Badge != strings.ToUpper(string(r.Health.Status)) || !strings.Contains(c.Class, string(r.Health.Status)) {
			t.Errorf("card %s: badge %q in a %q card, want %s", id, c.Badge, c.Class, r.Health.Status)
		}
		if s := severity(r.Health.Status); s > prevSeverity {
			t.Errorf("card %s (%s) is ranked below a healthier program", id, r.Health.Status)
		} else {
			prevSeverity = s
		}
		for _, reason := range r.Health.Reasons {
			if !strings.Contains(c.Text, reason) {
				t.Errorf("card %s lacks the reason %q", id, reason)
			}
		}
		for _, m := range r.Late {
			if !strings.Contains(c.Text, m.Title) {
				t.Errorf("card %s does not name the late milestone %q", id, m.Title)
			}
		}
		if !strings.Contains(c.Fresh, want.source) || !strings.Contains(c.Fresh, "synced") {
			t.Errorf("card %s freshness %q does not name %s", id, c.Fresh, want.source)
		}
	}

	// Keyboard: the first Tab lands on the skip link.
	must(t, chromedp.Do(ctx, chromedp.KeyEvent("\t")))
	if got := browse(t, ctx, chromedp.Evaluate[string](`document.activeElement.textContent`)); got != "Skip to content" {
		t.Errorf("the first Tab focuses %q, want the skip link", got)
	}

	// A phone: nothing wider than the screen.
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2))))
	if w := browse(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); w > 0 {
		t.Errorf("on a 390 px phone the portfolio is %d px wider than the screen", w)
	}
	must(t, chromedp.Do(ctx, chromedp.KeyEvent("\t"))) // the skip link hides again
	save("portfolio-phone.png", browse(t, ctx, chromedp.CaptureScreenshot()))
	must(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))

	// Follow the link of the red program with the most red flags.
	target := ""
	for _, c := range cards {
		id := strings.TrimPrefix(c.ID, "program-")
		if r := byID[id]; r.Health.Status == pmsync.Red && (target == "" || r.Risks.RedFlags > byID[target].Risks.RedFlags) {
			target = id
		}
	}
	if target == "" || len(byID[target].RedFlags) == 0 {
		t.Fatalf("the demo has no red program with red flags to follow")
	}
	r := byID[target]
	must(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#h-`+target+` a`)), chromedp.WaitVisible(chromedp.ID("timeline"))))
	if loc := browse(t, ctx, chromedp.Location()); loc != base+"/programs/"+target {
		t.Errorf("following the card's link reached %s", loc)
	}

	// The timeline: a chart with its accessible name, a row per late and
	// due-soon milestone, and today.
	type timelineInfo struct {
		Label  string
		Titles []string
		Today  int
	}
	tl := browse(t, ctx, chromedp.Evaluate[timelineInfo](`(() => { const s = document.querySelector("#timeline svg.timeline"); return {
		Label: s.getAttribute("aria-label"), Titles: [...s.querySelectorAll("g.ms > title")].map(e => e.textContent),
		Today: s.querySelectorAll("line.today").length}; })()`))
	if !strings.HasPrefix(tl.Label, "Milestone timeline:") || tl.Today != 1 {
		t.Errorf("timeline label %q, %d today lines", tl.Label, tl.Today)
	}
	for _, m := range append(slices.Clone(r.Late), r.DueSoon...) {
		if !slices.ContainsFunc(tl.Titles, func(s string) bool { return strings.HasPrefix(s, m.Title+": ") }) {
			t.Errorf("the timeline has no row for %q (rows: %q)", m.Title, tl.Titles)
		}
	}

	// The risk matrix: 5 × 5 cells whose counts add up to the open risks.
	cells := browse(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.matrix tbody td")].map(td => td.innerText.trim())`))
	if len(cells) != 25 {
		t.Fatalf("the risk matrix has %d cells, want 25", len(cells))
	}
	sum := r.RiskMatrix.Unrated
	for _, c := range cells {
		var n int
		if c != "·" {
			if _, err := fmt.Sscan(c, &n); err != nil {
				t.Errorf("matrix cell %q is not a count", c)
			}
		}
		sum += n
	}
	if sum != r.Risks.Open {
		t.Errorf("the matrix counts %d risks with the unrated, want the %d open", sum, r.Risks.Open)
	}

	// A red-flag row per red flag, the first naming the worst.
	rows := browse(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#red-flags tr.flag")].map(tr => tr.innerText)`))
	if len(rows) != len(r.RedFlags) {
		t.Errorf("%d red-flag rows, want %d", len(rows), len(r.RedFlags))
	} else if first := r.RedFlags[0]; !strings.Contains(rows[0], first.Title) || !strings.Contains(rows[0], fmt.Sprint(first.Score)) {
		t.Errorf("the first red-flag row %q does not name %q (%d)", rows[0], first.Title, first.Score)
	}
	links := browse(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#red-flags tr.flag a[href^='http']").length`))
	if links == 0 {
		t.Errorf("the red-flag rows link to no source item")
	}
	save("program-"+target+".png", browse(t, ctx, chromedp.FullScreenshot(100)))

	// Print: the navigation is gone and the page prints on A4 and Letter.
	_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
	must(t, err)
	if d := browse(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".top nav")).display`)); d != "none" {
		t.Errorf("printed, the navigation is %q, want none", d)
	}
	_, err = chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""})
	must(t, err)
	for _, paper := range []struct {
		name string
		size chromedp.PaperSize
	}{{"a4", chromedp.PaperA4}, {"letter", chromedp.PaperLetter}} {
		pdf := browse(t, ctx, chromedp.PrintToPDF(chromedp.PDFPaper(paper.size), chromedp.PDFPrintBackground()))
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) || pdfPages(pdf) < 1 {
			t.Errorf("the %s PDF is not a PDF with pages (%d bytes)", paper.name, len(pdf))
		}
		save("program-"+target+"-"+paper.name+".pdf", pdf)
	}
	must(t, chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("summary"))))
	save("portfolio-a4.pdf", browse(t, ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground())))

	// Every figure explained: the late milestones figure lists the
	// program's late milestones.
	must(t, chromedp.Do(ctx, chromedp.Navigate(base+"/programs/"+target+"/explain"), chromedp.WaitVisible(chromedp.ID("figure-milestones-late"))))
	lateRows := browse(t, ctx, chromedp.Evaluate[string](`document.querySelector("#figure-milestones-late").parentElement.innerText`))
	for _, m := range r.Late {
		if !strings.Contains(lateRows, m.Title) {
			t.Errorf("the explanation of milestones.late does not list %q", m.Title)
		}
	}
	save("explain-"+target+".png", browse(t, ctx, chromedp.CaptureScreenshot()))

	// The sources page lists every source.
	must(t, chromedp.Do(ctx, chromedp.Navigate(base+"/sources"), chromedp.WaitVisible(chromedp.ID("source-table"))))
	srcRows := browse(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#source-table tbody tr")].map(tr => tr.id)`))
	var wantRows []string
	for _, p := range demoPrograms {
		wantRows = append(wantRows, "source-"+p.source)
	}
	slices.Sort(srcRows)
	slices.Sort(wantRows)
	if !slices.Equal(srcRows, wantRows) {
		t.Errorf("sources page rows %q, want %q", srcRows, wantRows)
	}
	save("sources.png", browse(t, ctx, chromedp.FullScreenshot(100)))

	// Nothing the browser refused (a CSP violation is a console error) and
	// no script error.
	drain(t, console, func(e log.EventEntryAdded) {
		if e.Entry.Level == log.EntryLevelError {
			t.Errorf("browser console error: %s %s", e.Entry.Source, e.Entry.Text)
		}
	})
	drain(t, exceptions, func(e runtime.EventExceptionThrown) {
		t.Errorf("script exception: %s", e.ExceptionDetails.Text)
	})
}

// drain reads the events buffered so far without waiting for more.
func drain[E any](t *testing.T, events iter.Seq2[E, error], f func(E)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range events {
			if err != nil || ctx.Err() != nil {
				return
			}
			f(ev)
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func severity(h pmsync.HealthStatus) int {
	switch h {
	case pmsync.Red:
		return 2
	case pmsync.Amber:
		return 1
	}
	return 0
}

func pdfPages(pdf []byte) int {
	return len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1))
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PMSYNC_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: apt-get install -y chromium (or set PMSYNC_CHROMIUM)")
	return ""
}

// browser starts headless Chromium with a fresh profile and nothing that
// reaches the network on its own.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	_, err := chromedp.Call(ctx, log.Enable, cdp.Empty{})
	must(t, err)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func browse[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
