package asana

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
	"github.com/pmsync/pmsync/sandbox/asanasim"
)

func TestRegistered(t *testing.T) {
	spec, err := connectors.Default.Lookup(Kind)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(spec.AuthKeys, []string{"token"}) || spec.DefaultMapping != "asana-default" ||
		!bytes.Equal(spec.DefaultMappingYAML, defaultMappingYAML) || len(defaultMappingYAML) == 0 {
		t.Errorf("spec: auth %v, mapping %q (%d bytes)", spec.AuthKeys, spec.DefaultMapping, len(spec.DefaultMappingYAML))
	}
	if spec.Scope == nil || spec.Target == nil || spec.CheckParams == nil {
		t.Error("spec lacks a checker")
	}
	c, err := connectors.Default.New(connectors.Params{Name: "a", Kind: Kind, Credentials: connectors.Credentials{Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{
		"Pusher": is[connectors.Pusher](c), "Checker": is[connectors.Checker](c),
		"Lister": is[connectors.Lister](c), "RequestCounter": is[connectors.RequestCounter](c),
	} {
		if !ok {
			t.Errorf("connector is not a %s", name)
		}
	}
}

func is[T any](v any) bool { _, ok := v.(T); return ok }

func TestCheckParams(t *testing.T) {
	ok := connectors.Credentials{Token: token}
	tests := []struct {
		name string
		p    connectors.Params
		want string // "" means valid
	}{
		{"default base url", connectors.Params{Credentials: ok}, ""},
		{"https override", connectors.Params{Credentials: ok, BaseURL: "https://asana.example.org/api/1.0"}, ""},
		{"loopback http", connectors.Params{Credentials: ok, BaseURL: "http://127.0.0.1:8123/api/1.0"}, ""},
		{"localhost http", connectors.Params{Credentials: ok, BaseURL: "http://localhost:8123/api/1.0"}, ""},
		{"remote http", connectors.Params{Credentials: ok, BaseURL: "http://asana.example.org/api/1.0"}, "must use https"},
		{"no token", connectors.Params{}, "personal access token"},
		{"relative url", connectors.Params{Credentials: ok, BaseURL: "app.asana.com/api/1.0"}, "must be an absolute URL"},
		{"credentials in url", connectors.Params{Credentials: ok, BaseURL: "https://u:p@app.asana.com/api/1.0"}, "must not contain credentials"},
		{"negative rate", connectors.Params{Credentials: ok, RateLimit: connectors.RateLimit{PerMinute: -1}}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckParams(tt.p)
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("CheckParams = %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "u:p@") {
				t.Errorf("error repeats the url's credentials: %v", err)
			}
		})
	}
}

func TestCheckScopeAndTarget(t *testing.T) {
	scopes := []struct {
		s    Scope
		want string
	}{
		{Scope{Project: "1205000000000002"}, ""},
		{Scope{}, "needs project"},
		{Scope{Project: "Telehealth Launch"}, "not a gid"},
	}
	for _, tt := range scopes {
		err := CheckScope(tt.s)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckScope(%+v) = %v, want %q", tt.s, err, tt.want)
		}
	}
	targets := []struct {
		tg   Target
		want string
	}{
		{Target{Project: "1205000000000002"}, ""},
		{Target{}, "needs project"},
		{Target{Project: "12/34"}, "not a gid"},
	}
	for _, tt := range targets {
		err := CheckTarget(tt.tg)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckTarget(%+v) = %v, want %q", tt.tg, err, tt.want)
		}
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   httpapi.ErrorInfo
	}{
		{"bad request", 400, `{"errors":[{"message":"project: Missing input","help":"For more information ..."}]}`, httpapi.ErrorInfo{Message: "project: Missing input"}},
		{"server error phrase", 500, `{"errors":[{"message":"Server Error","phrase":"6 sad squid snuggle softly"}]}`, httpapi.ErrorInfo{Message: "Server Error", RefID: "6 sad squid snuggle softly"}},
		{"two errors", 400, `{"errors":[{"message":"a: x"},{"message":"b: y"}]}`, httpapi.ErrorInfo{Message: "a: x; b: y"}},
		{"not json", 502, `<html>Bad Gateway</html>`, httpapi.ErrorInfo{Message: "<html>Bad Gateway</html>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, parseError(tt.status, http.Header{}, []byte(tt.body))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	good := newFixture(t, fixtureOpts{tasks: 0})
	if err := good.c.Check(context.Background()); err != nil {
		t.Errorf("Check with a good token: %v", err)
	}
	bad := newFixture(t, fixtureOpts{tasks: 0, badAuth: true})
	err := bad.c.Check(context.Background())
	if connectors.StatusOf(err) != 401 || !strings.Contains(err.Error(), "Not Authorized") {
		t.Errorf("Check with a bad token = %v, want 401 Not Authorized", err)
	}
	if strings.Contains(err.Error(), "wrong-token-value") {
		t.Errorf("error text holds the token: %v", err)
	}
	if good.c.Requests() != 1 || bad.c.Requests() != 1 {
		t.Errorf("requests %d and %d, want 1 each", good.c.Requests(), bad.c.Requests())
	}
}

// Asana's 429 carries Retry-After: the wait is exactly what it asks for.
func TestRetryAfterHonoured(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 150})
	f.sim.Inject(asanasim.Fault{Path: "/tasks", Status: 429, RetryAfter: 7})
	f.sim.Inject(asanasim.Fault{Path: "/events", Status: 503})
	f.pull(t, "")
	waits := f.sleep.Waits()
	if !slices.Contains(waits, 7*time.Second) {
		t.Errorf("waits %v, want the 7s Retry-After among them", waits)
	}
	if got := len(f.calls("GET", "/tasks")); got != 3 {
		t.Errorf("%d task requests, want 3 (429, then 2 pages)", got)
	}
}

// recordingLimiters notes the budget each client asks for.
type recordingLimiters struct {
	*httpapi.Limiters
	limit rate.Limit
	burst int
}

func (r *recordingLimiters) Limiter(key string, limit rate.Limit, burst int) *rate.Limiter {
	r.limit, r.burst = limit, burst
	return r.Limiters.Limiter(key, limit, burst)
}

// The default budget is a free domain's 150 requests a minute; a paid
// domain's 1,500 is one setting away.
func TestRateLimitBudget(t *testing.T) {
	tests := []struct {
		name      string
		rl        connectors.RateLimit
		wantLimit rate.Limit
		wantBurst int
		mustWait  bool // 11 requests cannot all go out unthrottled
	}{
		{"free plan default", connectors.RateLimit{}, 2.5, 5, true},
		{"paid plan", connectors.RateLimit{PerMinute: 1500}, 25, 50, false},
		{"explicit burst", connectors.RateLimit{PerMinute: 1500, Burst: 10}, 25, 10, false},
		{"slow", connectors.RateLimit{PerMinute: 6}, 0.1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lims := &recordingLimiters{Limiters: httpapi.NewLimiters()}
			f := newFixture(t, fixtureOpts{tasks: 1000, params: func(p *connectors.Params) {
				p.RateLimit, p.Limiters = tt.rl, lims
			}})
			if lims.limit != tt.wantLimit || lims.burst != tt.wantBurst {
				t.Errorf("limiter %v/s burst %d, want %v/s burst %d", lims.limit, lims.burst, tt.wantLimit, tt.wantBurst)
			}
			// The limiter is in the path: past the burst, requests wait
			// (through the injected sleep) rather than go out at once.
			f.pull(t, "")
			waited := 0
			for _, w := range f.sleep.Waits() {
				if w > 0 {
					waited++
				}
			}
			if tt.mustWait && waited == 0 {
				t.Errorf("11 requests with a burst of %d never waited", tt.wantBurst)
			}
		})
	}
}
