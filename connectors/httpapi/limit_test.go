package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestLimitersShareAndLower(t *testing.T) {
	l := NewLimiters()
	a := l.Limiter("jira:abc", 10, 5)
	tests := []struct {
		name      string
		key       string
		limit     rate.Limit
		burst     int
		same      bool
		wantLimit rate.Limit
		wantBurst int
	}{
		{"same key, same settings", "jira:abc", 10, 5, true, 10, 5},
		{"same key, higher settings keep the bucket", "jira:abc", 50, 50, true, 10, 5},
		{"same key, lower settings lower it", "jira:abc", 2, 1, true, 2, 1},
		{"other key", "jira:def", 3, 0, false, 3, 1},
		{"unlimited", "asana:x", 0, 0, false, rate.Inf, 1},
	}
	for _, tt := range tests {
		got := l.Limiter(tt.key, tt.limit, tt.burst)
		if (got == a) != tt.same {
			t.Errorf("%s: shares the first bucket = %v, want %v", tt.name, got == a, tt.same)
		}
		if got.Limit() != tt.wantLimit || got.Burst() != tt.wantBurst {
			t.Errorf("%s: limit %v burst %d, want %v and %d", tt.name, got.Limit(), got.Burst(), tt.wantLimit, tt.wantBurst)
		}
	}
}

func TestFingerprint(t *testing.T) {
	tests := []struct {
		name string
		a, b Auth
		same bool
	}{
		{"same bearer token", Bearer("tok-123456"), Bearer("tok-123456"), true},
		{"different bearer tokens", Bearer("tok-123456"), Bearer("tok-654321"), false},
		{"bearer and trello with the same token", Bearer("tok-123456"), TrelloKeyToken("", "tok-123456"), false},
		{"same basic", Basic("ada@example.org", "pw-123456"), Basic("ada@example.org", "pw-123456"), true},
		{"basic, other user", Basic("ada@example.org", "pw-123456"), Basic("bob@example.org", "pw-123456"), false},
		{"basic split differently", Basic("ab", "cdef"), Basic("abc", "def"), false},
		{"trello, other key", TrelloKeyToken("k1-aaaa", "tok-123456"), TrelloKeyToken("k2-aaaa", "tok-123456"), false},
	}
	for _, tt := range tests {
		fa, fb := tt.a.Fingerprint(), tt.b.Fingerprint()
		if (fa == fb) != tt.same {
			t.Errorf("%s: fingerprints %s and %s, want same = %v", tt.name, fa, fb, tt.same)
		}
		if len(fa) != 16 {
			t.Errorf("%s: fingerprint %q, want 16 hex digits", tt.name, fa)
		}
		for _, s := range tt.a.Secrets() {
			if strings.Contains(fa, s) {
				t.Errorf("%s: fingerprint %q contains the secret", tt.name, fa)
			}
		}
	}
}

// limiterWaits runs one request per client in order and returns each
// client's recorded waits.
func limiterWaits(t *testing.T, clients []*Client, recs []*sleeps) [][]time.Duration {
	t.Helper()
	out := make([][]time.Duration, len(clients))
	for i, c := range clients {
		if _, err := c.Do(context.Background(), Request{Path: "/x"}); err != nil {
			t.Fatalf("client %d: Do: %v", i, err)
		}
		out[i] = recs[i].all()
	}
	return out
}

func TestSharedLimiterBetweenClients(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	tests := []struct {
		name   string
		shared bool
		auths  []Auth
		// wantWait says, per client, whether it had to wait for a token.
		wantWait []bool
	}{
		{"same token, shared limiters", true, []Auth{Bearer("tok-aaaa"), Bearer("tok-aaaa")}, []bool{false, true}},
		{"different tokens, shared limiters", true, []Auth{Bearer("tok-aaaa"), Bearer("tok-bbbb")}, []bool{false, false}},
		{"same token, private limiters", false, []Auth{Bearer("tok-aaaa"), Bearer("tok-aaaa")}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var shared *Limiters
			if tt.shared {
				shared = NewLimiters()
			}
			var clients []*Client
			var recs []*sleeps
			for _, a := range tt.auths {
				rec := &sleeps{}
				cfg := Config{Auth: a, Rate: 1, Burst: 1, Sleep: rec.sleep}
				if shared != nil {
					cfg.Limiters = shared
				}
				clients = append(clients, newTestClient(t, srv.URL, cfg))
				recs = append(recs, rec)
			}
			waits := limiterWaits(t, clients, recs)
			for i, w := range waits {
				if !tt.wantWait[i] {
					if len(w) != 0 {
						t.Errorf("client %d waited %v, want no wait", i, w)
					}
					continue
				}
				// One token per second, the first taken just now: the
				// second client waits close to a second.
				if len(w) != 1 || w[0] < 900*time.Millisecond || w[0] > time.Second {
					t.Errorf("client %d waited %v, want one wait of about 1s", i, w)
				}
			}
		})
	}
}

func Test429PausesTheSharedBucket(t *testing.T) {
	tests := []struct {
		name string
		// first is the status the first client gets once before a 200.
		first      int
		retryAfter string
		// minWait and maxWait bound the second client's limiter wait.
		minWait, maxWait time.Duration
	}{
		// 10 tokens/s, burst 1: without a pause the second client waits
		// for the two tokens the first one used, 0.2s at most.
		{"no 429", 200, "", 0, 200 * time.Millisecond},
		// The first client waits 2s out of band (fake sleep) and then once
		// more in the bucket; the second queues behind: more than 2s.
		{"429 with Retry-After 2", 429, "2", 2 * time.Second, 2500 * time.Millisecond},
		{"503 does not pause", 503, "2", 0, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := reply{status: tt.first}
			if tt.retryAfter != "" {
				rep.header = map[string]string{"Retry-After": tt.retryAfter}
			}
			s := &script{replies: []reply{rep, {status: 200}}}
			srv := httptest.NewServer(s)
			defer srv.Close()
			shared := NewLimiters()
			recA, recB := &sleeps{}, &sleeps{}
			a := newTestClient(t, srv.URL, Config{Auth: Bearer("tok-aaaa"), Rate: 10, Burst: 1, Limiters: shared, Sleep: recA.sleep})
			b := newTestClient(t, srv.URL, Config{Auth: Bearer("tok-aaaa"), Rate: 10, Burst: 1, Limiters: shared, Sleep: recB.sleep})
			if _, err := a.Do(context.Background(), Request{Path: "/x"}); err != nil {
				t.Fatalf("first client: %v", err)
			}
			if _, err := b.Do(context.Background(), Request{Path: "/x"}); err != nil {
				t.Fatalf("second client: %v", err)
			}
			var total time.Duration
			for _, d := range recB.all() {
				total += d
			}
			if total < tt.minWait || total > tt.maxWait {
				t.Errorf("second client waited %v (%v), want within [%v, %v]; first waited %v", total, recB.all(), tt.minWait, tt.maxWait, recA.all())
			}
		})
	}
}

func TestLimiterWaitRespectsDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Config{Rate: rate.Every(time.Hour), Burst: 1})
	if _, err := c.Do(context.Background(), Request{Path: "/x"}); err != nil {
		t.Fatalf("first request: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, Request{Path: "/x"})
	if err == nil || !strings.Contains(err.Error(), "would pass the deadline") || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %v, want an immediate deadline error", err, time.Since(start))
	}
	if c.Requests() != 1 {
		t.Errorf("Requests() = %d, want 1", c.Requests())
	}
}
