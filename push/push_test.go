package push

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/report"
)

func f(v float64) *float64 { return &v }

// testReport is a small two-program report, one red with an item title
// that tries Slack's channel ping and a URL with an ampersand.
func testReport() pmsync.Report {
	red := pmsync.Rollup{ID: "ehr", Name: "EHR Upgrade", Owner: "Dana Whitfield", AsOf: "2026-07-02", Version: "aaa",
		Health:   pmsync.Health{Status: pmsync.Red, Reasons: []string{"1 milestone late: Go-live <!channel> (due 2026-06-20)"}},
		Progress: pmsync.Progress{Done: 10, Total: 20, Percent: 50},
		Budget:   pmsync.Budget{Currency: "USD", Planned: 1000, Actual: 400, BurnPercent: f(40)},
		Late:     []pmsync.ItemRef{{Source: "jira", ExternalID: "M1", Title: "Go-live <!channel>", URL: "https://acme.atlassian.net/browse/M1?a=1&b=2", Due: "2026-06-20"}},
		NextMilestones: []pmsync.Milestone{{ItemRef: pmsync.ItemRef{Title: "Cutover", Due: "2026-07-10"}, State: pmsync.MilestoneAtRisk,
			Forecast: &pmsync.Forecast{P50: "2026-07-09", P85: "2026-07-16", Remaining: 2}}},
	}
	red.Milestones.Late = 1
	green := pmsync.Rollup{ID: "tele", Name: "Telehealth", AsOf: "2026-07-02", Version: "bbb",
		Health:   pmsync.Health{Status: pmsync.Green, Reasons: []string{"no late milestones, no red-flag risks, budget on track"}},
		Progress: pmsync.Progress{Done: 1, Total: 4, Percent: 25},
		Budget:   pmsync.Budget{Currency: "USD", Planned: 500, Actual: 100, BurnPercent: f(20)}}
	return pmsync.NewReport("2026-07-02", time.Date(2026, 7, 2, 7, 0, 0, 0, time.UTC), []pmsync.Rollup{green, red})
}

// A receiver that checks the signature the way the README tells
// receivers to, with its own HMAC code.
func TestWebhookSignatureVerifiesIndependently(t *testing.T) {
	const secret = "hmac-secret-6e1f"
	now := time.Unix(1782979200, 0)
	var got struct {
		body              []byte
		ts, sig, version  string
		contentType, path string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.body, _ = io.ReadAll(r.Body)
		got.ts, got.sig = r.Header.Get("X-Pmsync-Timestamp"), r.Header.Get("X-Pmsync-Signature")
		got.version, got.contentType, got.path = r.Header.Get("X-Pmsync-Report-Version"), r.Header.Get("Content-Type"), r.URL.RequestURI()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, err := NewWebhook(WebhookOptions{Name: "hub", URL: pmsync.Secret(srv.URL + "/hooks/pmsync?sig=q1"), Format: "json", Secret: secret,
		Now: func() time.Time { return now }, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	rep := testReport()
	receipt, err := w.Send(context.Background(), rep)
	if err != nil {
		t.Fatal(err)
	}
	if receipt != "webhook hub: HTTP 204" || got.path != "/hooks/pmsync?sig=q1" || got.contentType != "application/json" || got.version != rep.Version {
		t.Errorf("receipt %q, request %s %s version %s", receipt, got.path, got.contentType, got.version)
	}
	// The receiver's check: HMAC-SHA256(secret, timestamp "." body).
	if got.ts != "1782979200" {
		t.Fatalf("timestamp %q", got.ts)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(got.ts + "." + string(got.body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(got.sig)) {
		t.Errorf("signature %s, the receiver computes %s", got.sig, want)
	}
	other := hmac.New(sha256.New, []byte("another secret"))
	other.Write([]byte(got.ts + "." + string(got.body)))
	if hmac.Equal([]byte("sha256="+hex.EncodeToString(other.Sum(nil))), []byte(got.sig)) {
		t.Error("a wrong secret verifies")
	}
	// The body is the rollup document, as `pmsync rollup --format json` writes it.
	var doc bytes.Buffer
	if err := report.JSON(&doc, rep); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc.Bytes(), got.body) {
		t.Errorf("body is not the report document:\n%s", got.body)
	}
}

// A vector computed with another HMAC implementation (Python's hmac
// module): hmac.new(b"hmac-secret-6e1f", b'1782979200.{"schema":"x"}\n',
// hashlib.sha256).hexdigest().
func TestSignKnownVector(t *testing.T) {
	got := Sign([]byte("hmac-secret-6e1f"), 1782979200, []byte("{\"schema\":\"x\"}\n"))
	if want := "sha256=745b16e02f0c4a24890aecaa9fc9d0873feefac35fdd321bb98ab62b5459f897"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestWebhookFailureSaysStatusNotURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid_token", http.StatusForbidden)
	}))
	defer srv.Close()
	w, err := NewWebhook(WebhookOptions{Name: "SLACK_URL", URL: pmsync.Secret(srv.URL + "/services/T0/B0/tok3nS3cret"), Format: "slack", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Send(context.Background(), testReport())
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") || strings.Contains(err.Error(), "tok3nS3cret") {
		t.Errorf("error = %v; want HTTP 403 and no URL token", err)
	}
	noURL, _ := NewWebhook(WebhookOptions{Name: "x", Format: "json"})
	if _, err := noURL.Send(context.Background(), testReport()); err == nil || !strings.Contains(err.Error(), "no URL") {
		t.Errorf("send without URL: %v", err)
	}
}

func TestSlackMessage(t *testing.T) {
	w, _ := NewWebhook(WebhookOptions{Name: "s", Format: "slack"})
	p, err := w.Render(testReport())
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct {
				Type, Text string
			} `json:"text"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(p.Body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Text != "Portfolio rollup 2026-07-02: 1 red, 0 amber, 1 green" {
		t.Errorf("text = %q", msg.Text)
	}
	var types []string
	for _, b := range msg.Blocks {
		types = append(types, b.Type)
	}
	// header, totals, divider, EHR (red first), Telehealth, late list, version
	if got := strings.Join(types, " "); got != "header section divider section section section context" {
		t.Errorf("blocks = %s", got)
	}
	if msg.Blocks[0].Text.Type != "plain_text" || msg.Blocks[0].Text.Text != "Portfolio rollup — 2026-07-02" {
		t.Errorf("header = %+v", msg.Blocks[0].Text)
	}
	ehr := msg.Blocks[3].Text.Text
	if !strings.HasPrefix(ehr, ":red_circle: *EHR Upgrade* — RED · Dana Whitfield") || strings.Contains(string(p.Body), "<!channel>") ||
		!strings.Contains(ehr, "Go-live &lt;!channel&gt;") || !strings.Contains(ehr, "Next: Cutover, due 2026-07-10 (forecast 2026-07-09–2026-07-16)") {
		t.Errorf("program section = %q", ehr)
	}
	if late := msg.Blocks[5].Text.Text; !strings.Contains(late, "<https://acme.atlassian.net/browse/M1?a=1&amp;b=2|Go-live &lt;!channel&gt;> (ehr, due 2026-06-20)") {
		t.Errorf("late section = %q", late)
	}
	// Budget: 1000 + 500 planned, 400 + 100 spent.
	if sum := msg.Blocks[1].Text.Text; !strings.Contains(sum, "*Budget:* 500 of 1,500 USD spent (33.3%)") || !strings.Contains(sum, "*Health:* 1 red · 0 amber · 1 green") {
		t.Errorf("summary = %q", sum)
	}
}

func TestSlackSectionsStayWithinLimits(t *testing.T) {
	rep := testReport()
	long := strings.Repeat("reason ", 1000)
	rep.Programs[1].Health.Reasons = []string{long}
	rep = pmsync.NewReport(rep.AsOf, rep.GeneratedAt, rep.Programs)
	msg := slackMessage(rep)
	for _, b := range msg.Blocks {
		if b.Text != nil && len([]rune(b.Text.Text)) > slackSectionMax {
			t.Errorf("a %s block holds %d characters", b.Type, len([]rune(b.Text.Text)))
		}
	}
	var many []pmsync.Rollup
	for i := range 30 {
		many = append(many, pmsync.Rollup{ID: "p" + strconv.Itoa(i), Name: "P", Health: pmsync.Health{Status: pmsync.Green}})
	}
	if n := len(slackMessage(pmsync.NewReport("2026-07-02", time.Time{}, many)).Blocks); n > 50 {
		t.Errorf("%d blocks for 30 programs; Slack takes 50", n)
	}
}

func TestTeamsMessage(t *testing.T) {
	w, _ := NewWebhook(WebhookOptions{Name: "t", Format: "teams"})
	p, err := w.Render(testReport())
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type        string
		Attachments []struct {
			ContentType string
			Content     struct {
				Type, Version string
				Body          []struct {
					Type, Text, Color string
					Items             []struct{ Type, Text, Color string }
				}
			}
		}
	}
	if err := json.Unmarshal(p.Body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 || msg.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("envelope = %+v", msg)
	}
	c := msg.Attachments[0].Content
	if c.Type != "AdaptiveCard" || c.Version != "1.4" || c.Body[0].Text != "Portfolio rollup — 2026-07-02" || c.Body[1].Type != "FactSet" {
		t.Errorf("card = %+v", c)
	}
	if prog := c.Body[2]; prog.Type != "Container" || prog.Items[0].Text != "EHR Upgrade — RED · Dana Whitfield" || prog.Items[0].Color != "Attention" {
		t.Errorf("first program = %+v", prog)
	}
}

func TestFileWritesAtomically(t *testing.T) {
	dir := t.TempDir()
	rep := testReport()
	for _, format := range []string{"json", "csv", "md"} {
		path := filepath.Join(dir, "rollup."+format)
		if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := NewFile(path, format)
		if err != nil {
			t.Fatal(err)
		}
		receipt, err := f.Send(context.Background(), rep)
		if err != nil || receipt != path {
			t.Fatalf("Send = %q, %v", receipt, err)
		}
		var want bytes.Buffer
		if err := report.Write(&want, rep, format); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s file differs from report.Write: %v", format, err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("mode = %v, %v", fi.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("the directory holds %d files (a temporary left behind?)", len(entries))
	}
	// A directory that vanished fails, naming the file.
	f, _ := NewFile(filepath.Join(dir, "gone", "r.json"), "json")
	if _, err := f.Send(context.Background(), rep); err == nil || !strings.Contains(err.Error(), "gone/r.json") {
		t.Errorf("write into a missing directory: %v", err)
	}
	if _, err := NewFile("x", "xml"); err == nil {
		t.Error("NewFile accepted format xml")
	}
}
