package all_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/configs"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox"
)

// The fuzz targets here feed each connector arbitrary bytes where it reads
// a vendor's answer: the page of records a pull decodes, and the answers to
// the reads and writes of a push. Every other request of the flow is
// answered from a recording of the sandbox simulators made when the target
// starts, so that an iteration sends nothing over the network and no rate
// limit slows it. Whatever the bytes, a connector must not panic or hang,
// must hand on only records it can name, and must fail with an error that
// names the connection and never holds a credential.

// replay answers requests from a recording, except those fuzzed selects,
// which get the fuzzer's body (status 200, JSON).
type replay struct {
	mu     sync.Mutex
	rec    map[string][]byte // "METHOD /path" → the first body recorded
	status map[string]int
	record http.RoundTripper // while non-nil, requests go here and are recorded
	fuzzed func(*http.Request) bool
	body   []byte
	seeds  [][]byte // bodies recorded for requests fuzzed selects
}

func key(r *http.Request) string { return r.Method + " " + r.URL.Path }

func (rp *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.record != nil {
		resp, err := rp.record.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if rp.fuzzed(req) {
			rp.seeds = append(rp.seeds, b)
		}
		if _, ok := rp.rec[key(req)]; !ok {
			rp.rec[key(req)], rp.status[key(req)] = b, resp.StatusCode
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return resp, nil
	}
	status, body := http.StatusOK, rp.body
	if !rp.fuzzed(req) {
		var ok bool
		if body, ok = rp.rec[key(req)]; ok {
			status = rp.status[key(req)]
		} else {
			status, body = http.StatusNotFound, []byte(`{"message":"not in the recording"}`)
		}
	}
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req,
	}, nil
}

func (rp *replay) serve(body []byte) {
	rp.mu.Lock()
	rp.body = body
	rp.mu.Unlock()
}

// fuzzConn is one demo connection built over a replay.
type fuzzConn struct {
	conn    connectors.Connector
	scope   connectors.Scope
	target  connectors.Target
	program string
	name    string
	secrets []string
	rp      *replay
}

// demoConn starts the sandbox, builds the demo connection of kind over a
// replay that fuzzes the requests fuzzed selects, and records one pull (or
// one push) so that the replay can answer the rest.
func demoConn(f *testing.F, kind string, fuzzed func(*http.Request) bool, push bool) *fuzzConn {
	f.Helper()
	demo, err := sandbox.Start(time.Now())
	if err != nil {
		f.Fatal(err)
	}
	defer demo.Close() // nothing reaches the simulators once recorded
	text, err := demo.Config(configs.Demo, f.TempDir()+"/unused.db")
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := config.Parse("configs/demo.yaml", text, connectors.Default, demo.Lookup)
	if err != nil {
		f.Fatal(err)
	}
	fc := &fuzzConn{rp: &replay{rec: map[string][]byte{}, status: map[string]int{}, fuzzed: fuzzed, record: http.DefaultTransport}}
	for _, v := range demo.Env {
		fc.secrets = append(fc.secrets, v)
	}
	for _, src := range cfg.Sources() {
		if src.Connection.Kind == kind {
			fc.name, fc.program = src.Connection.Name, src.Program
			if fc.scope, err = engine.ScopeFor(cfg, src); err != nil {
				f.Fatal(err)
			}
			break
		}
	}
	for _, p := range cfg.Push {
		if p.Connection == fc.name {
			fc.target = p.Target
		}
	}
	if fc.name == "" || (push && fc.target.Key == "") {
		f.Fatalf("the demo has no %s connection to fuzz", kind)
	}
	p, err := cfg.Params(fc.name)
	if err != nil {
		f.Fatal(err)
	}
	p.Transport = fc.rp
	p.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	p.RateLimit = connectors.RateLimit{PerMinute: 1e9, Burst: 1 << 20}
	p.Now = time.Now
	if fc.conn, err = cfg.Registry().New(p); err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	if push {
		if _, err := fc.conn.(connectors.Pusher).Push(ctx, fc.target, []pmsync.Rollup{fuzzRollup(fc.program)}); err != nil {
			f.Fatalf("recording a push: %v", err)
		}
	} else if err := fc.conn.Pull(ctx, fc.scope, "", func(connectors.Page) error { return nil }); err != nil {
		f.Fatalf("recording a pull: %v", err)
	}
	fc.rp.mu.Lock()
	fc.rp.record = nil
	fc.rp.mu.Unlock()
	for i, s := range fc.rp.seeds {
		s = shrink(s)
		f.Add(s)
		if os.Getenv("PMSYNC_WRITE_FUZZ_SEEDS") != "" {
			writeSeed(f, fmt.Sprintf("recorded-%d", i), s)
		}
	}
	return fc
}

// writeSeed checks a recorded answer into the target's seed corpus
// (testdata/fuzz/<target>/), in the format go test reads; run with
// PMSYNC_WRITE_FUZZ_SEEDS=1 after a simulator's answers change.
func writeSeed(f *testing.F, name string, body []byte) {
	dir := filepath.Join("testdata", "fuzz", f.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", body)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		f.Fatal(err)
	}
}

// shrink cuts the long lists of a recorded answer (a page of a hundred
// records) to three entries, so that the fuzzer mutates something small;
// shorter lists (a sheet's columns) stay whole.
func shrink(body []byte) []byte {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	var cut func(v any, depth int) any
	cut = func(v any, depth int) any {
		if depth > 8 {
			return v
		}
		switch x := v.(type) {
		case []any:
			if len(x) > 20 {
				x = x[:3]
			}
			for i := range x {
				x[i] = cut(x[i], depth+1)
			}
			return x
		case map[string]any:
			for k := range x {
				x[k] = cut(x[k], depth+1)
			}
		}
		return v
	}
	out, err := json.Marshal(cut(v, 0))
	if err != nil {
		return body
	}
	return out
}

// fuzzRollup is a hand-built rollup of program with something in every
// part a connector renders.
func fuzzRollup(program string) pmsync.Rollup {
	pct := func(f float64) *float64 { return &f }
	return pmsync.Rollup{
		ID: program, Name: "Fuzzed Program", AsOf: pmsync.DateOf(time.Now()), Version: "f0220ed0f022",
		Health:     pmsync.Health{Status: pmsync.Amber, Reasons: []string{"1 red-flag risk (score ≥ 15): Vendor delay (20)"}},
		Progress:   pmsync.Progress{Done: 12, Total: 40, Percent: 30},
		Milestones: pmsync.MilestoneCounts{Total: 4, Done: 1, DueSoon: 1},
		Risks:      pmsync.RiskCounts{Open: 3, RedFlags: 1},
		Budget:     pmsync.Budget{Currency: "USD", Planned: 100000, Actual: 42000, BurnPercent: pct(42), ElapsedPercent: pct(40), VariancePoints: pct(2)},
		Items:      pmsync.ItemCounts{Live: 44},
		Late:       []pmsync.ItemRef{}, DueSoon: []pmsync.ItemRef{}, RedFlags: []pmsync.ItemRef{{Title: "Vendor delay", Score: 20}},
	}
}

// errStop ends a pull after enough pages: a fuzzed page may promise more
// forever, and the replay would keep answering.
var errStop = errors.New("enough pages")

// checkPull pulls once over the fuzzer's body and checks the outcome.
func (fc *fuzzConn) checkPull(t *testing.T, body []byte) {
	fc.rp.serve(body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pages := 0
	err := fc.conn.Pull(ctx, fc.scope, "", func(p connectors.Page) error {
		for _, r := range p.Records {
			if r.ExternalID == "" {
				t.Errorf("page %d holds a record without an external id: %+v", pages, r)
			}
			if r.Data == nil {
				t.Errorf("record %s has no data", r.ExternalID)
			}
		}
		if pages++; pages >= 20 {
			return errStop
		}
		return nil
	})
	if ctx.Err() != nil {
		t.Fatalf("Pull did not finish within 10s: %v", err)
	}
	if err != nil && !errors.Is(err, errStop) {
		fc.checkError(t, err)
	}
}

// checkPush pushes one rollup over the fuzzer's body and checks the
// outcome.
func (fc *fuzzConn) checkPush(t *testing.T, body []byte) {
	fc.rp.serve(body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	receipts, err := fc.conn.(connectors.Pusher).Push(ctx, fc.target, []pmsync.Rollup{fuzzRollup(fc.program)})
	if ctx.Err() != nil {
		t.Fatalf("Push did not finish within 10s: %v", err)
	}
	if err != nil {
		fc.checkError(t, err)
		return
	}
	if len(receipts) != 1 || receipts[0].Program != fc.program {
		t.Errorf("Push succeeded with receipts %+v, want one for %s", receipts, fc.program)
	}
}

// vendorName matches an error that says which tool or connection failed.
var vendorName = regexp.MustCompile(`(?i)jira|asana|smartsheet|trello`)

func (fc *fuzzConn) checkError(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if !vendorName.MatchString(msg) {
		t.Errorf("error %q does not say which tool or connection failed", msg)
	}
	for _, s := range fc.secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error %q holds a credential", msg)
		}
	}
}

var (
	jiraPage  = func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/search/jql") }
	asanaPage = func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/tasks")
	}
	sheetPage = func(r *http.Request) bool {
		return r.Method == http.MethodGet && regexp.MustCompile(`/sheets/[0-9]+$`).MatchString(r.URL.Path)
	}
	trelloPage = func(r *http.Request) bool {
		return r.Method == http.MethodGet && regexp.MustCompile(`/boards/[^/]+/cards(/all)?$`).MatchString(r.URL.Path)
	}
	writes = func(r *http.Request) bool { return r.Method != http.MethodGet }
	reads  = func(r *http.Request) bool { return r.Method == http.MethodGet }
)

func FuzzJiraPage(f *testing.F) {
	fc := demoConn(f, "jira", jiraPage, false)
	f.Fuzz(fc.checkPull)
}

func FuzzAsanaPage(f *testing.F) {
	fc := demoConn(f, "asana", asanaPage, false)
	f.Fuzz(fc.checkPull)
}

func FuzzSmartsheetPage(f *testing.F) {
	fc := demoConn(f, "smartsheet", sheetPage, false)
	f.Fuzz(fc.checkPull)
}

func FuzzTrelloPage(f *testing.F) {
	fc := demoConn(f, "trello", trelloPage, false)
	f.Fuzz(fc.checkPull)
}

// The push targets fuzz the answers to writes and, separately, to the reads
// a push makes first (its guard against writing a version twice).

func FuzzJiraPushWrite(f *testing.F)  { fc := demoConn(f, "jira", writes, true); f.Fuzz(fc.checkPush) }
func FuzzJiraPushRead(f *testing.F)   { fc := demoConn(f, "jira", reads, true); f.Fuzz(fc.checkPush) }
func FuzzAsanaPushWrite(f *testing.F) { fc := demoConn(f, "asana", writes, true); f.Fuzz(fc.checkPush) }
func FuzzAsanaPushRead(f *testing.F)  { fc := demoConn(f, "asana", reads, true); f.Fuzz(fc.checkPush) }
func FuzzSmartsheetPushWrite(f *testing.F) {
	fc := demoConn(f, "smartsheet", writes, true)
	f.Fuzz(fc.checkPush)
}
func FuzzSmartsheetPushRead(f *testing.F) {
	fc := demoConn(f, "smartsheet", reads, true)
	f.Fuzz(fc.checkPush)
}
func FuzzTrelloPushWrite(f *testing.F) {
	fc := demoConn(f, "trello", writes, true)
	f.Fuzz(fc.checkPush)
}
func FuzzTrelloPushRead(f *testing.F) { fc := demoConn(f, "trello", reads, true); f.Fuzz(fc.checkPush) }
