package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startDemo runs `pmsync demo --serve` on a free loopback port, as a user
// would, and returns the dashboard's base URL once it listens. The demo is
// stopped with SIGTERM when the test ends.
func startDemo(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "demo", "--serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "PMSYNC_TEST_AS_MAIN=1")
	// The demo says where it serves on stderr (stdout is for the rollup
	// document); both are read, in case that moves.
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 2)
	ended := make(chan struct{}, 2)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		// Wait may close the pipes only once they are read to the end.
		timeout := time.After(30 * time.Second)
		for range 2 {
			select {
			case <-ended:
			case <-timeout:
				_ = cmd.Process.Kill()
				t.Errorf("the demo did not stop within 30 s of SIGTERM")
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("demo after SIGTERM: %v\n%s", err, logs)
		}
	})
	for _, r := range []io.Reader{stdout, stderr} {
		go func() {
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				fmt.Fprintln(logs, sc.Text())
				if rest, ok := strings.CutPrefix(sc.Text(), "dashboard on "); ok {
					found <- strings.TrimSuffix(strings.Fields(rest)[0], "/")
				}
			}
			ended <- struct{}{}
		}()
	}
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case base := <-found:
			return base
		case <-ended:
			ended <- struct{}{} // for the cleanup's count
			t.Fatalf("the demo ended before serving; output:\n%s", logs)
		case <-deadline:
			t.Fatalf("the demo did not start serving within 3 minutes; output:\n%s", logs)
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// curlCall is one documented curl command.
type curlCall struct {
	line    string
	method  string
	url     string
	headers http.Header
}

// readmeCurls returns every curl command of the README's shell blocks.
func readmeCurls(t *testing.T, readme string) []curlCall {
	t.Helper()
	var calls []curlCall
	inBlock := false
	for i, line := range strings.Split(readme, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock || !strings.HasPrefix(trimmed, "curl ") {
			continue
		}
		c, err := parseCurl(trimmed)
		if err != nil {
			t.Fatalf("README.md:%d: %v", i+1, err)
		}
		calls = append(calls, c)
	}
	return calls
}

// parseCurl reads the subset of curl the README uses: -s/-S/-f flags,
// -X GET or POST, -H headers and one URL, with shell quoting and
// $PMSYNC_TOKEN.
func parseCurl(line string) (curlCall, error) {
	words, err := shellWords(line)
	if err != nil {
		return curlCall{}, err
	}
	c := curlCall{line: line, method: http.MethodGet, headers: http.Header{}}
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-X" || w == "--request":
			if i+1 >= len(words) || (words[i+1] != http.MethodGet && words[i+1] != http.MethodPost) {
				return c, fmt.Errorf("%q: -X takes GET or POST", line)
			}
			i++
			c.method = words[i]
		case w == "-H" || w == "--header":
			if i+1 >= len(words) {
				return c, fmt.Errorf("%q: -H without a header", line)
			}
			i++
			k, v, ok := strings.Cut(words[i], ":")
			if !ok {
				return c, fmt.Errorf("%q: header %q has no colon", line, words[i])
			}
			c.headers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		case regexp.MustCompile(`^-[sSf]+$`).MatchString(w):
		case strings.HasPrefix(w, "-"):
			return c, fmt.Errorf("%q: option %s is not one the README test knows", line, w)
		case c.url != "":
			return c, fmt.Errorf("%q: more than one URL", line)
		default:
			c.url = w
		}
	}
	if c.url == "" {
		return c, fmt.Errorf("%q: no URL", line)
	}
	return c, nil
}

// shellWords splits a command line as a POSIX shell would for the quoting
// the README uses, expanding $PMSYNC_TOKEN to a stand-in token.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed single quote", line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			end := strings.IndexByte(line[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed double quote", line)
			}
			cur.WriteString(strings.ReplaceAll(line[i+1:i+1+end], "$PMSYNC_TOKEN", "demo-needs-no-token"))
			i += end + 1
			inWord = true
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '|' || ch == ';' || ch == '&' || ch == '>' || ch == '<' || ch == '`':
			return nil, fmt.Errorf("%q: the README's curl examples stand alone (no %q)", line, ch)
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestParseCurl(t *testing.T) {
	c, err := parseCurl(`curl -sS -H "Authorization: Bearer $PMSYNC_TOKEN" 'http://127.0.0.1:8080/api/v1/programs/ehr-upgrade/items?kind=milestone&state=todo'`)
	if err != nil {
		t.Fatal(err)
	}
	if c.url != "http://127.0.0.1:8080/api/v1/programs/ehr-upgrade/items?kind=milestone&state=todo" || c.headers.Get("Authorization") != "Bearer demo-needs-no-token" {
		t.Errorf("parsed %+v", c)
	}
	if c, err := parseCurl(`curl -s -X POST http://x/refresh`); err != nil || c.method != http.MethodPost || c.url != "http://x/refresh" {
		t.Errorf("parseCurl(-X POST) = %+v, %v", c, err)
	}
	for _, bad := range []string{`curl -X DELETE http://x/`, `curl -d a=b http://x/`, `curl http://x/ | jq .`, `curl 'http://x/`, `curl -s`} {
		if _, err := parseCurl(bad); err == nil {
			t.Errorf("parseCurl(%q) succeeded, want an error", bad)
		}
	}
}

// TestReadmeCurlExamples runs every curl example of the README against
// `pmsync demo --serve`, so that the documentation and the API cannot
// drift apart.
func TestReadmeCurlExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	calls := readmeCurls(t, string(readme))
	// Every API route is documented by at least one example.
	for _, route := range []string{"/api/v1/portfolio", "/api/v1/programs/{id}", "/api/v1/programs/{id}/items", "/api/v1/programs/{id}/history", "/api/v1/sources", "/api/v1/rollup"} {
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(route), `\{id\}`, `[a-z0-9-]+`) + "$")
		covered := false
		for _, c := range calls {
			if u, err := url.Parse(c.url); err == nil && re.MatchString(u.Path) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("README.md has no curl example of %s", route)
		}
	}
	base := startDemo(t)
	for _, c := range calls {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Errorf("README curl %q: %v", c.line, err)
			continue
		}
		if u.Host != "127.0.0.1:8080" {
			t.Errorf("README curl %q: examples address the demo's default, 127.0.0.1:8080", c.line)
			continue
		}
		req, err := http.NewRequest(c.method, base+u.RequestURI(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = c.headers
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("README curl %q: %v", c.line, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("README curl %q = %d:\n%.400s", c.line, resp.StatusCode, body)
			continue
		}
		if strings.HasPrefix(u.Path, "/api/") {
			var doc struct {
				Schema string `json:"schema"`
			}
			if err := json.Unmarshal(body, &doc); err != nil || !strings.HasPrefix(doc.Schema, "pmsync.") {
				t.Errorf("README curl %q: not a pmsync JSON document (%v):\n%.300s", c.line, err, body)
			}
		}
	}
	if len(calls) == 0 {
		t.Fatal("README.md has no curl examples")
	}
}
