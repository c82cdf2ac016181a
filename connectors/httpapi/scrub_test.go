package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/connectors"
)

// echo answers with the request's Authorization header and query in the
// body, as some misconfigured proxies and vendor debug pages do.
func echo(status int, asJSON bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		if asJSON {
			msg := "denied for " + r.Header.Get("Authorization") + " at " + r.URL.String()
			_ = json.NewEncoder(w).Encode(map[string]any{"message": msg})
			return
		}
		// Plain text, with the header starting near the 200-byte cut so a
		// secret would straddle it.
		fmt.Fprintf(w, "%s%s %s", strings.Repeat(".", 180), r.Header.Get("Authorization"), r.URL.RawQuery)
	})
}

func TestSecretsNeverInErrorText(t *testing.T) {
	const (
		email    = "ada@example.org"
		password = "api-T0ken+with/odd&chars"
		bearer   = "pat_Z2hpamtsbW5vcHFyc3R1dnd4eXo"
		key      = "0471642aefef5fa1fa76530ce1ba4c85"
		token    = "9eb76d9a9d02b8dd40c2f3e5df18556c831d4d1fadbe2c45f8310e6c93b5c548"
		extra    = "extra-secret-from-config"
	)
	auths := []struct {
		name    string
		auth    Auth
		secrets []string
	}{
		{"basic", Basic(email, password), []string{password, base64.StdEncoding.EncodeToString([]byte(email + ":" + password))}},
		{"bearer", Bearer(bearer), []string{bearer}},
		{"trello", TrelloKeyToken(key, token), []string{key, token}},
	}
	servers := []struct {
		name   string
		status int
		json   bool
	}{
		{"400 JSON echo", 400, true},
		{"500 text echo", 500, false},
		{"401 text echo", 401, false},
	}
	// The request carries secrets in the query too, both in Path and Query.
	req := Request{
		Path:  "/rest/api/3/search/jql?token=" + url.QueryEscape(token) + "&jql=project%3DEHR",
		Query: url.Values{"key": {key}, "api_key": {"unlisted-api-key-1"}, "extra": {extra}},
	}
	for _, a := range auths {
		for _, s := range servers {
			t.Run(a.name+"/"+s.name, func(t *testing.T) {
				srv := httptest.NewServer(echo(s.status, s.json))
				defer srv.Close()
				c := newTestClient(t, srv.URL, Config{Auth: a.auth, Secrets: []string{extra}, Sleep: (&sleeps{}).sleep, MaxRetries: 1})
				_, err := c.Do(context.Background(), req)
				if err == nil {
					t.Fatal("Do succeeded, want an APIError")
				}
				checkScrubbed(t, err.Error(), append(a.secrets, token, key, extra, "unlisted-api-key-1"))
				// Proof the echo was read: the JSON message is short enough to
				// show the marker; the text one is cut inside the secret.
				evidence := redacted
				if !s.json {
					evidence = strings.Repeat(".", 100)
				}
				if !strings.Contains(err.Error(), evidence) {
					t.Errorf("error %q lacks %q; was the echo read at all?", err, evidence)
				}
			})
		}
	}

	t.Run("transport error to a closed port with a token in the query", func(t *testing.T) {
		c := newTestClient(t, "http://"+closedAddr(t), Config{Auth: Bearer(bearer), Sleep: (&sleeps{}).sleep, MaxRetries: 1})
		_, err := c.Do(context.Background(), Request{Path: "/1/boards/b1?token=" + token + "&key=" + key, Query: url.Values{"access_token": {"abc-unlisted-token"}}})
		if err == nil {
			t.Fatal("Do succeeded against a closed port")
		}
		checkScrubbed(t, err.Error(), []string{token, key, bearer, "abc-unlisted-token", "?"})
		if !strings.HasPrefix(err.Error(), "jira: GET /1/boards/b1: ") {
			t.Errorf("err = %q, want vendor, method and path", err)
		}
	})

	t.Run("decode error quoting a body", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "<html>%s</html>", r.Header.Get("Authorization"))
		}))
		defer srv.Close()
		c := newTestClient(t, srv.URL, Config{Auth: Bearer(bearer)})
		var out map[string]any
		err := c.GetJSON(context.Background(), "/x", nil, &out)
		if err == nil {
			t.Fatal("GetJSON decoded HTML")
		}
		checkScrubbed(t, err.Error(), []string{bearer})
	})

	t.Run("vendor parser output", func(t *testing.T) {
		srv := httptest.NewServer(echo(403, false))
		defer srv.Close()
		c := newTestClient(t, srv.URL, Config{Auth: Bearer(bearer), ParseError: func(_ int, _ http.Header, body []byte) ErrorInfo {
			return ErrorInfo{Message: string(body), Code: bearer, RefID: bearer}
		}})
		_, err := c.Do(context.Background(), Request{Path: "/x"})
		if err == nil {
			t.Fatal("Do succeeded, want an APIError")
		}
		checkScrubbed(t, err.Error(), []string{bearer})
	})

	t.Run("retry log lines", func(t *testing.T) {
		srv := httptest.NewServer(echo(500, true))
		defer srv.Close()
		var buf bytes.Buffer
		c := newTestClient(t, srv.URL, Config{Auth: Bearer(bearer), Sleep: (&sleeps{}).sleep, MaxRetries: 1,
			Log: zerolog.New(&buf).Level(zerolog.DebugLevel)})
		_, _ = c.Do(context.Background(), Request{Path: "/x", Query: url.Values{"token": {token}}})
		if !strings.Contains(buf.String(), `"message":"retrying request"`) || !strings.Contains(buf.String(), `"status":500`) {
			t.Errorf("log = %q, want a retry line with the status", buf.String())
		}
		checkScrubbed(t, buf.String(), []string{bearer, token, "denied"})
	})
}

// checkScrubbed fails if text holds any secret, whole, escaped or in part.
func checkScrubbed(t *testing.T, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		forms := []string{s, url.QueryEscape(s), url.PathEscape(s)}
		if len(s) >= 12 {
			forms = append(forms, s[:8]) // the part left by a careless cut
		}
		for _, f := range forms {
			if strings.Contains(text, f) {
				t.Errorf("text %q contains secret form %q", text, f)
			}
		}
	}
}

func TestScrubber(t *testing.T) {
	s := newScrubber([]string{"abc", "", "tok/en+1", "tok/en+1-longer", `quo"te<x>`})
	tests := []struct {
		in, want string
	}{
		{"short abc stays", "short abc stays"},
		{"raw tok/en+1 here", "raw <secret> here"},
		{"longer tok/en+1-longer first", "longer <secret> first"},
		{"query tok%2Fen%2B1", "query <secret>"},
		{"path tok%2Fen+1", "path <secret>"},
		{`json "quo\"te\u003cx\u003e"`, `json "<secret>"`},
		{"https://h/p?token=zzz&jql=a&key=k1&api_key=a1&apikey=a2&access_token=a3&KEY=up", "https://h/p?token=<secret>&jql=a&key=<secret>&api_key=<secret>&apikey=<secret>&access_token=<secret>&KEY=<secret>"},
		{"nextPageToken=CAEaAggB&monkey=1", "nextPageToken=CAEaAggB&monkey=1"},
		{"token=<secret> again", "token=<secret> again"},
	}
	for _, tt := range tests {
		if got := s.text(tt.in); got != tt.want {
			t.Errorf("text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseGenericError(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	tests := []struct {
		name string
		body string
		want ErrorInfo
	}{
		{"jira", `{"errorMessages":["Field 'x' does not exist."],"errors":{"summary":"required","duedate":"bad date"}}`,
			ErrorInfo{Message: "Field 'x' does not exist.; duedate: bad date; summary: required"}},
		{"asana", `{"errors":[{"message":"project: Not a recognized ID","help":"…"},{"message":"second"}]}`,
			ErrorInfo{Message: "project: Not a recognized ID; second"}},
		{"smartsheet", `{"errorCode":4003,"message":"Rate limit exceeded.","refId":"1b2c3d"}`,
			ErrorInfo{Code: "4003", Message: "Rate limit exceeded.", RefID: "1b2c3d"}},
		{"error string and code", `{"error":"invalid_grant","code":"E1"}`, ErrorInfo{Code: "E1", Message: "invalid_grant"}},
		{"error object", `{"error":{"message":"quota"}}`, ErrorInfo{Message: "quota"}},
		{"plain text", "invalid key\n", ErrorInfo{Message: "invalid key"}},
		{"long text cut on a rune", long, ErrorInfo{Message: strings.Repeat("é", 100) + "…"}},
		{"JSON without a message", `{"status":"x"}`, ErrorInfo{}},
		{"empty", "", ErrorInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseGenericError(400, http.Header{}, []byte(tt.body))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseGenericError (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIErrorFields(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "90")
		w.WriteHeader(429)
		_, _ = io.WriteString(w, `{"errorCode":4003,"message":"Rate limit exceeded.","refId":"abc123"}`)
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL+"/2.0", Config{Vendor: "smartsheet", MaxRetries: -1})
	_, err := c.Do(context.Background(), Request{Path: "/sheets/7?rowsModifiedSince=2026-01-01T00:00:00Z"})
	want := "smartsheet: GET /2.0/sheets/7: HTTP 429 Too Many Requests: Rate limit exceeded. (code 4003) (refId abc123)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	var ae *connectors.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err %T is not an APIError", err)
	}
	if !ae.Temporary() || ae.RetryAfter != 90*time.Second {
		t.Errorf("APIError = %+v, want Temporary with RetryAfter 90s", ae)
	}
}
