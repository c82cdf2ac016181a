package trellosim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseOAuth(t *testing.T) {
	cases := []struct {
		name   string
		header string
		want   map[string]string
		ok     bool
	}{
		{"plain", `OAuth oauth_consumer_key="k1", oauth_token="t1"`, map[string]string{"oauth_consumer_key": "k1", "oauth_token": "t1"}, true},
		{"any order and case", `oauth oauth_token="t1",oauth_consumer_key="k1"`, map[string]string{"oauth_consumer_key": "k1", "oauth_token": "t1"}, true},
		{"spaces and more params", `OAuth  oauth_consumer_key = "k1" ,  oauth_signature_method="PLAINTEXT", oauth_token="t1" `,
			map[string]string{"oauth_consumer_key": "k1", "oauth_token": "t1", "oauth_signature_method": "PLAINTEXT"}, true},
		{"percent-encoded", `OAuth oauth_consumer_key="k%2B1", oauth_token="t%3D1"`, map[string]string{"oauth_consumer_key": "k+1", "oauth_token": "t=1"}, true},
		{"bearer", `Bearer t1`, nil, false},
		{"unquoted", `OAuth oauth_consumer_key=k1, oauth_token="t1"`, nil, false},
		{"no pairs", `OAuth garbage`, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parseOAuth(c.header)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if ok {
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("params (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestAuth(t *testing.T) {
	_, ts, _ := start(t, Options{})
	q := "?key=" + testKey + "&token=" + url.QueryEscape(testToken)
	cases := []struct {
		name, auth, query string
		status            int
		body              string
	}{
		{"header", authHeader, "", 200, ""},
		{"header, reversed and tight", `OAuth oauth_token="` + testToken + `",oauth_consumer_key="` + testKey + `"`, "", 200, ""},
		{"query string", "", q, 200, ""},
		{"nothing", "", "", 401, MsgInvalidKey},
		{"wrong key", `OAuth oauth_consumer_key="nope", oauth_token="` + testToken + `"`, "", 401, MsgInvalidKey},
		{"wrong token", `OAuth oauth_consumer_key="` + testKey + `", oauth_token="revoked"`, "", 401, MsgInvalidToken},
		{"no token", `OAuth oauth_consumer_key="` + testKey + `"`, "", 401, MsgUnauthorized},
		{"bearer", "Bearer " + testToken, "", 401, MsgInvalidKey},
		{"wrong token in query", "", "?key=" + testKey + "&token=revoked", 401, MsgInvalidToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, ts, http.MethodGet, "/members/me"+c.query, c.auth, nil, "")
			if r.status != c.status {
				t.Fatalf("status %d (%s), want %d", r.status, r.text(), c.status)
			}
			if c.body != "" {
				if r.text() != c.body {
					t.Errorf("body %q, want %q", r.text(), c.body)
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type %q: Trello's auth errors are plain text", ct)
				}
			}
		})
	}
}

func TestRequestLogRecordsWhereCredentialsCameFrom(t *testing.T) {
	s, ts, clk := start(t, Options{})
	get(t, ts, "/members/me?fields=id")
	clk.Advance(time.Second)
	do(t, ts, http.MethodGet, "/members/me?key="+testKey+"&token="+url.QueryEscape(testToken), "", nil, "")
	do(t, ts, http.MethodGet, "/nowhere", authHeader, nil, "")

	reqs := s.Requests()
	if len(reqs) != 3 || s.RequestCount() != 3 {
		t.Fatalf("%d requests logged (count %d), want 3", len(reqs), s.RequestCount())
	}
	first := reqs[0]
	if first.Method != "GET" || first.Path != "/members/me" || first.Query.Get("fields") != "id" ||
		!first.Time.Equal(t0) || first.Status != 200 || first.CredsInQuery || !first.CredsInHeader {
		t.Errorf("first request %+v", first)
	}
	if !reqs[1].CredsInQuery || reqs[1].CredsInHeader || !reqs[1].Time.Equal(t0.Add(time.Second)) {
		t.Errorf("second request %+v: credentials came in the query", reqs[1])
	}
	if reqs[2].Path != "/nowhere" || reqs[2].Status != 404 {
		t.Errorf("third request %+v", reqs[2])
	}
	if r := get(t, ts, "/members/me"); r.header.Get("Date") != "Fri, 20 Nov 2026 09:00:01 GMT" || r.header.Get("X-Server-Time") != "1795165201000" {
		t.Errorf("Date %q X-Server-Time %q: want the simulator's clock", r.header.Get("Date"), r.header.Get("X-Server-Time"))
	}
	// The log is a copy.
	reqs[0].Query.Set("fields", "changed")
	if s.Requests()[0].Query.Get("fields") != "id" {
		t.Error("Requests shares its query values with the log")
	}
}

func TestIDsAndRoutes(t *testing.T) {
	f := seed(t, Options{})
	unknown := "5f0000007a3c51e0d2ffffff"
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/boards/not-an-id", 400, MsgInvalidID},
		{"/boards/" + unknown, 404, MsgNotFound},
		{"/boards/" + unknown + "/cards", 404, MsgNotFound},
		{"/cards/123", 400, MsgInvalidID},
		{"/cards/" + unknown, 404, MsgNotFound},
		{"/lists/" + unknown + "/cards", 404, MsgNotFound},
		{"/lists/zzz/cards", 400, MsgInvalidID},
		{"/elephants", 404, "Cannot GET /1/elephants"},
		{"/boards/" + f.board + "/elephants", 404, "Cannot GET /1/boards/" + f.board + "/elephants"},
	}
	for _, c := range cases {
		r := get(t, f.ts, c.path)
		if r.status != c.status || r.text() != c.body {
			t.Errorf("GET %s: %d %q, want %d %q", c.path, r.status, r.text(), c.status, c.body)
		}
	}
	// Ids are 24 hex digits whose first 8 are the creation second, so they
	// sort by creation.
	for i, name := range f.order {
		id := f.card[name]
		if !validID(id) {
			t.Fatalf("card id %q is not 24 hex digits", id)
		}
		if want := t0.Add(time.Duration(i+1) * time.Minute); !idTime(id).Equal(want) {
			t.Errorf("card %s id time %v, want %v", name, idTime(id), want)
		}
		if i > 0 && id <= f.card[f.order[i-1]] {
			t.Errorf("card %s id %s does not sort after %s", name, id, f.card[f.order[i-1]])
		}
	}
	// Trello also finds a card and a board by their short link.
	var c obj
	getOK(t, f.ts, "/cards/"+f.card["golive"], &c)
	var byLink obj
	getOK(t, f.ts, "/cards/"+c["shortLink"].(string), &byLink)
	if byLink["id"] != f.card["golive"] {
		t.Errorf("short link found %v", byLink["id"])
	}
	if !strings.HasSuffix(c["shortUrl"].(string), "/c/"+c["shortLink"].(string)) {
		t.Errorf("shortUrl %v does not end with the short link", c["shortUrl"])
	}
}

func TestMembersMe(t *testing.T) {
	_, ts, _ := start(t, Options{})
	var me obj
	getOK(t, ts, "/members/me", &me)
	if me["username"] != "pmointegration" || me["fullName"] != "PMO Integration" || !validID(me["id"].(string)) {
		t.Errorf("me = %v", me)
	}
	var some obj
	getOK(t, ts, "/members/me?fields=username", &some)
	if len(some) != 2 || some["username"] != "pmointegration" || some["id"] != me["id"] {
		t.Errorf("fields=username gave %v, want id and username", some)
	}
	if r := get(t, ts, "/members/me?fields=shoeSize"); r.status != 400 || r.text() != "invalid value for fields" {
		t.Errorf("unknown field: %d %q", r.status, r.text())
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("token", func(t *testing.T) {
		_, ts, clk := start(t, Options{TokenLimit: 3, KeyLimit: 300})
		for i := range 3 {
			r := get(t, ts, "/members/me")
			if r.status != 200 {
				t.Fatalf("request %d: %d", i+1, r.status)
			}
			if got := r.header.Get("X-Rate-Limit-Api-Token-Remaining"); got != []string{"2", "1", "0"}[i] {
				t.Errorf("request %d: token remaining %q", i+1, got)
			}
		}
		r := get(t, ts, "/members/me")
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("4th request in 10 s: %d, want 429", r.status)
		}
		var body map[string]string
		decode(t, r, &body)
		if diff := cmp.Diff(map[string]string{"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}, body); diff != "" {
			t.Errorf("429 body (-want +got):\n%s", diff)
		}
		if ra := r.header.Get("Retry-After"); ra != "" {
			t.Errorf("Retry-After %q: Trello documents none", ra)
		}
		if r.header.Get("X-Rate-Limit-Api-Token-Max") != "3" || r.header.Get("X-Rate-Limit-Api-Token-Interval-Ms") != "10000" {
			t.Errorf("rate-limit headers %v", r.header)
		}
		// The window slides: the first three leave it 10 s after they came.
		clk.Advance(9 * time.Second)
		if r := get(t, ts, "/members/me"); r.status != 429 {
			t.Fatalf("after 9 s: %d, want 429", r.status)
		}
		clk.Advance(time.Second + time.Millisecond)
		for i := range 3 {
			if r := get(t, ts, "/members/me"); r.status != 200 {
				t.Fatalf("after 10 s, request %d: %d", i+1, r.status)
			}
		}
		if r := get(t, ts, "/members/me"); r.status != 429 {
			t.Fatalf("4th in the new window: %d, want 429", r.status)
		}
	})
	t.Run("key", func(t *testing.T) {
		_, ts, _ := start(t, Options{TokenLimit: 50, KeyLimit: 2})
		get(t, ts, "/members/me")
		get(t, ts, "/members/me")
		r := get(t, ts, "/members/me")
		var body map[string]string
		decode(t, r, &body)
		if r.status != 429 || body["error"] != "API_KEY_LIMIT_EXCEEDED" || body["message"] != "Rate limit exceeded" {
			t.Errorf("over the key limit: %d %v", r.status, body)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		clk := &clock{t: t0}
		s := New(Options{Key: testKey, Token: testToken, Now: clk.Now})
		ts := s.Start()
		defer ts.Close()
		r := get(t, ts, "/members/me")
		if r.header.Get("X-Rate-Limit-Api-Token-Max") != "100" || r.header.Get("X-Rate-Limit-Api-Key-Max") != "300" {
			t.Errorf("default limits %q/%q, want 100/300", r.header.Get("X-Rate-Limit-Api-Token-Max"), r.header.Get("X-Rate-Limit-Api-Key-Max"))
		}
	})
}

func TestFaults(t *testing.T) {
	f := seed(t, Options{})
	cardsPath := "/boards/" + f.board + "/cards"

	f.s.Inject(Fault{Path: cardsPath, Status: 500})
	if r := get(t, f.ts, cardsPath); r.status != 500 || r.text() != "Internal Server Error" {
		t.Errorf("500 fault: %d %q", r.status, r.text())
	}
	if r := get(t, f.ts, cardsPath); r.status != 200 {
		t.Errorf("after a one-time fault: %d", r.status)
	}

	f.s.Inject(Fault{Method: "GET", Path: "/1" + cardsPath, Status: 429, RetryAfter: 7, Times: 2})
	for i := range 2 {
		r := get(t, f.ts, cardsPath)
		var body map[string]string
		decode(t, r, &body)
		if r.status != 429 || r.header.Get("Retry-After") != "7" || body["error"] != CodeTokenLimit {
			t.Errorf("429 fault %d: %d %q %v", i+1, r.status, r.header.Get("Retry-After"), body)
		}
	}
	if r := get(t, f.ts, cardsPath); r.status != 200 {
		t.Errorf("after Times 2: %d", r.status)
	}

	// A parent path matches its children; another method does not match.
	f.s.Inject(Fault{Method: "PUT", Path: "/boards/" + f.board, Status: 401})
	f.s.Inject(Fault{Path: "/boards/" + f.board, Status: 401})
	if r := get(t, f.ts, cardsPath+"?fields=name"); r.status != 401 || r.text() != MsgInvalidToken {
		t.Errorf("401 fault: %d %q", r.status, r.text())
	}

	f.s.Inject(Fault{Path: cardsPath, Malformed: true})
	r := get(t, f.ts, cardsPath)
	var v any
	if r.status != 200 || json.Unmarshal(r.body, &v) == nil {
		t.Errorf("malformed fault: %d %q should be a 200 with broken JSON", r.status, r.text())
	}

	f.s.Inject(Fault{Path: cardsPath, Status: 503, Body: "<html>upstream</html>"})
	if r := get(t, f.ts, cardsPath); r.status != 503 || r.text() != "<html>upstream</html>" {
		t.Errorf("body fault: %d %q", r.status, r.text())
	}

	f.s.Inject(Fault{Path: "/members/me", Status: 502, Times: -1})
	for range 3 {
		if r := get(t, f.ts, "/members/me"); r.status != 502 {
			t.Errorf("every-time fault: %d", r.status)
		}
	}
}

func TestFaultDelay(t *testing.T) {
	s, ts, _ := start(t, Options{})
	s.Inject(Fault{Path: "/members/me", Delay: 2 * time.Second, Status: 500})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, BaseURL(ts)+"/members/me", nil)
	req.Header.Set("Authorization", authHeader)
	began := time.Now()
	_, err := ts.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the client's deadline", err)
	}
	if time.Since(began) > time.Second {
		t.Error("the delay did not end when the client went away")
	}

	// Only a delay: the real answer comes late.
	s.Inject(Fault{Path: "/members/me", Delay: 20 * time.Millisecond})
	began = time.Now()
	if r := get(t, ts, "/members/me"); r.status != 200 || time.Since(began) < 20*time.Millisecond {
		t.Errorf("delay-only fault: %d after %v", r.status, time.Since(began))
	}
}

func TestMaxConcurrent(t *testing.T) {
	s, ts, _ := start(t, Options{})
	s.Inject(Fault{Path: "/members/me", Delay: 150 * time.Millisecond, Times: 3})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { get(t, ts, "/members/me") })
	}
	wg.Wait()
	if got := s.MaxConcurrent(testToken); got != 3 {
		t.Errorf("MaxConcurrent = %d, want 3", got)
	}
	get(t, ts, "/members/me")
	if got := s.MaxConcurrent(testToken); got != 3 {
		t.Errorf("MaxConcurrent after a lone request = %d, want it to stay 3", got)
	}
	if got := s.MaxConcurrent("someone-else"); got != 0 {
		t.Errorf("MaxConcurrent of an unseen token = %d", got)
	}
}
