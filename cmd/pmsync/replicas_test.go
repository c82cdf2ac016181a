package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/asanasim"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/postgres"
	"github.com/pmsync/pmsync/store/postgres/pgtest"
)

// credentialGate counts a simulator's pull requests in flight at once. A
// connection is one credential: two replicas pulling it at the same time
// would show as two requests in flight. Pushes (which read and write the
// target issue or project) are not pulls and are not counted.
//
// A request is in flight from its arrival until the simulator starts its
// answer (each search page waits 30 ms first): a client may have read a
// whole answer, finished its sync and released the lease while the
// simulator's handler is still returning. A request whose client has
// closed its end of the connection (a killed replica, or one that gave its
// lease up and cancelled) does not count either: no process is waiting for
// its answer. That is judged a moment after the second request arrives
// (closeGrace): a killed Go process is taken for gone as soon as its main
// thread is a zombie, and its other threads, which keep its sockets open,
// can take a few milliseconds more to exit. Two live replicas pulling at
// once keep their connections open, and are counted.
type credentialGate struct {
	next     http.Handler
	isPull   func(*http.Request) bool
	mu       sync.Mutex
	inflight map[*http.Request]time.Time
	max      int
	overlaps []string
	checks   sync.WaitGroup // the overlap checks still waiting out closeGrace
}

// closeGrace is how long a dying replica's sockets may stay open.
const closeGrace = 250 * time.Millisecond

func (g *credentialGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.isPull(r) {
		g.next.ServeHTTP(w, r)
		return
	}
	g.mu.Lock()
	if g.inflight == nil {
		g.inflight = map[*http.Request]time.Time{}
	}
	now := time.Now()
	var others []*http.Request
	for o := range g.inflight {
		if o.Context().Err() == nil {
			others = append(others, o)
		}
	}
	if len(others) > 0 {
		since := make([]time.Duration, len(others))
		for i, o := range others {
			since[i] = now.Sub(g.inflight[o])
		}
		g.checks.Go(func() {
			time.Sleep(closeGrace)
			g.mu.Lock()
			defer g.mu.Unlock()
			n := 1
			for i, o := range others {
				if clientOpen(o.RemoteAddr, o.Context().Value(http.LocalAddrContextKey).(net.Addr)) {
					n++
					g.overlaps = append(g.overlaps, fmt.Sprintf("%s %s from %s while %s %s from %s (in flight for %s)",
						r.Method, r.URL.Path, r.RemoteAddr, o.Method, o.URL.Path, o.RemoteAddr, since[i]))
				}
			}
			g.max = max(g.max, n)
		})
	}
	g.inflight[r] = now
	g.max = max(g.max, 1)
	g.mu.Unlock()
	answered := func() {
		g.mu.Lock()
		delete(g.inflight, r)
		g.mu.Unlock()
	}
	defer answered()
	g.next.ServeHTTP(&answerWatch{ResponseWriter: w, answered: answered}, r)
}

// answerWatch calls answered when a handler starts its answer.
type answerWatch struct {
	http.ResponseWriter
	answered func()
	once     sync.Once
}

func (a *answerWatch) WriteHeader(code int) {
	a.once.Do(a.answered)
	a.ResponseWriter.WriteHeader(code)
}

func (a *answerWatch) Write(b []byte) (int, error) {
	a.once.Do(a.answered)
	return a.ResponseWriter.Write(b)
}

func (a *answerWatch) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// clientOpen reports whether the client end of a loopback TCP connection
// is still open: established in the kernel's table. client is the client's
// IPv4 address and port as the server saw it, server the server's own. A
// client port can stand in the table twice (an old connection to another
// server still closing), so the row must name both ends. Where the table
// cannot be read, or the addresses are not IPv4, it reports true, so that
// the gate errs towards counting.
func clientOpen(client string, server net.Addr) bool {
	c, err1 := netip.ParseAddrPort(client)
	s, err2 := netip.ParseAddrPort(server.String())
	if err1 != nil || err2 != nil || !c.Addr().Is4() || !s.Addr().Is4() {
		return true
	}
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return true
	}
	// The table writes an IPv4 address as one 32-bit word in the machine's
	// byte order, in hex, and the port in plain hex.
	hexAddr := func(ap netip.AddrPort) string {
		return fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(ap.Addr().AsSlice()), ap.Port())
	}
	local, remote := hexAddr(c), hexAddr(s)
	for _, line := range strings.Split(string(table), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == local && f[2] == remote && f[3] == "01" { // TCP_ESTABLISHED
			return true
		}
	}
	return false
}

func (g *credentialGate) maxInFlight() int {
	g.checks.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max
}

// overlapsSeen names the pulls that arrived while another was in flight.
func (g *credentialGate) overlapsSeen() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.overlaps)
}

// TestReplicasShareOnePostgreSQL runs three `pmsync run` replicas on one
// PostgreSQL database against two tools, kills a random replica with
// SIGKILL at random moments (at least ten times) and starts a new one,
// while the tools change. Afterwards every item is stored exactly once and
// equals what one clean sync stores, no connection was ever pulled by two
// replicas at once, and each rollup version reached each target once.
func TestReplicasShareOnePostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and subprocesses")
	}
	ctx := context.Background()
	srv, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		if os.Getenv("CI") != "true" && strings.Contains(err.Error(), pgtest.ErrNotInstalled.Error()) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	dbURL := srv.Database(t)

	clk := sandbox.NewClock(time.Now().UTC().Truncate(time.Second))
	jira := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: email, Token: token, Now: clk.Now, MaxResults: 50})
	jira.Add(jirasim.Generate("EHR", 700, 11, clk.Now())...)
	status := jira.Add(jirasim.Issue{Project: "PMO", Type: "Task", Summary: "Executive status", Status: "In Progress", StatusCategory: "indeterminate"})[0]
	// Pages take a moment, so that kills land mid-sync.
	jira.Inject(jirasim.Fault{Path: "/rest/api/3/search/jql", Delay: 30 * time.Millisecond, Times: -1})
	jg := &credentialGate{next: jira, isPull: func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, "/search/jql") || strings.HasSuffix(r.URL.Path, "/field") || strings.HasSuffix(r.URL.Path, "/myself")
	}}
	js := httptest.NewServer(jg)
	t.Cleanup(js.Close)

	const asanaToken = "asana-replica-token"
	asana := asanasim.New(asanasim.Options{Token: asanaToken, Now: clk.Now})
	project := asana.Generate("Telehealth Launch", 400, 11, clk.Now())
	ag := &credentialGate{next: asana, isPull: func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, "/tasks") || strings.HasSuffix(r.URL.Path, "/events")
	}}
	as := httptest.NewServer(ag)
	t.Cleanup(as.Close)

	dir := t.TempDir()
	// A killed replica's leases are taken over at once (its process is
	// gone), so the lease term only bounds a live replica that cannot renew:
	// it stops a fifth of the term early. 10 s leaves 2 s for a process
	// starved of CPU by the rest of the test suite to notice; the default
	// is 5 minutes.
	config := func(name string) string {
		body := fmt.Sprintf(`database: { url_env: PMSYNC_TEST_DB }
timezone: UTC
http: { listen: "127.0.0.1:0" }
schedule: { sync: "@every 1s", rollup: "@every 2s", deletions: "@every 1h" }
sync: { lease_ttl: 10s, workers: 2 }
connections:
  - { name: jira, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
  - { name: asana, kind: asana, base_url: %s, auth: { token_env: ASANA_TOKEN } }
programs:
  - id: ehr
    name: EHR Upgrade
    start: 2026-01-05
    end: 2027-12-18
    sources: [ { name: ehr-jira, connection: jira, scope: { project: EHR } } ]
  - id: tele
    name: Telehealth Launch
    start: 2026-01-05
    end: 2027-12-18
    sources: [ { name: tele-asana, connection: asana, scope: { project: "%s" } } ]
push:
  - { connection: jira, target: { issue: %s }, programs: [ehr] }
  - { connection: asana, target: { project: "%s" }, programs: [tele] }
`, js.URL, as.URL+asanasim.BasePath, project, status, project)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cfg := config("replicas.yaml")
	env := append(os.Environ(), "PMSYNC_TEST_AS_MAIN=1", "PMSYNC_TEST_DB="+dbURL,
		"JIRA_EMAIL="+email, "JIRA_TOKEN="+token, "ASANA_TOKEN="+asanaToken)

	type replica struct {
		cmd  *exec.Cmd
		done chan struct{}
	}
	start := func(i int) *replica {
		cmd := exec.Command(os.Args[0], "run", "--config", cfg)
		cmd.Env = env
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("replica-%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := &replica{cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); logf.Close(); close(r.done) }()
		return r
	}
	replicas := []*replica{start(0), start(1), start(2)}
	started := 3
	t.Cleanup(func() {
		for _, r := range replicas {
			_ = r.cmd.Process.Signal(syscall.SIGKILL)
			<-r.done
		}
	})

	rng := rand.New(rand.NewPCG(7, 2026))
	issues := jira.Issues()
	tasks := asana.Tasks(project)
	db, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// syncing returns the index of a replica holding a sync lease now, if
	// one does within a while: killing it lands in the middle of a sync.
	syncing := func() (int, bool) {
		until := time.Now().Add(10 * time.Second)
		for time.Now().Before(until) {
			leases, err := db.Leases(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range leases {
				if !strings.HasPrefix(l.Name, "sync:") || !l.Expires.After(time.Now()) {
					continue
				}
				for i, r := range replicas {
					if strings.Contains(l.Holder, fmt.Sprintf("/%d/", r.cmd.Process.Pid)) {
						return i, true
					}
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		return 0, false
	}
	kills, midSync := 0, 0
	for kills < 12 {
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		// The tools change between kills: new rollup versions to push.
		clk.Advance(time.Minute)
		is := issues[rng.IntN(len(issues))]
		_ = jira.Update(is.Key, func(x *jirasim.Issue) { x.Status, x.StatusCategory = "Done", "done" })
		tk := tasks[rng.IntN(len(tasks))]
		_ = asana.UpdateTask(tk.GID, func(x *asanasim.Task) { x.Completed = true })
		// Two kills in three hit a replica in the middle of a sync; the
		// rest hit any replica, whatever it is doing (pushing, idle).
		i := rng.IntN(len(replicas))
		if rng.IntN(3) > 0 {
			if j, ok := syncing(); ok {
				i = j
				midSync++
			}
		}
		_ = replicas[i].cmd.Process.Signal(syscall.SIGKILL)
		<-replicas[i].done
		kills++
		replicas[i] = start(started)
		started++
	}

	// Let the cluster settle: each source synced by a run that began
	// after the last change, then two rollup ticks for its pushes.
	lastChange := time.Now()
	deadline := time.Now().Add(90 * time.Second)
	for {
		settled := true
		for _, src := range []string{"ehr-jira", "tele-asana"} {
			runs, err := db.Runs(ctx, src, 50)
			if err != nil {
				t.Fatal(err)
			}
			synced := false
			for _, r := range runs {
				synced = synced || r.Status == store.RunOK && r.Started.After(lastChange)
			}
			settled = settled && synced
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			for i := range started {
				log, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("replica-%d.log", i)))
				lines := strings.Split(strings.TrimSpace(string(log)), "\n")
				t.Logf("replica %d, last lines:\n%s", i, strings.Join(lines[max(0, len(lines)-8):], "\n"))
			}
			t.Fatalf("the replicas did not settle within 90 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(4 * time.Second)
	for _, r := range replicas {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, r := range replicas {
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("a replica did not stop on SIGTERM")
		}
	}
	t.Logf("%d kills (%d of them while the replica held a sync lease), %d replicas started", kills, midSync, started)
	if midSync < 4 {
		t.Errorf("only %d kills landed while a sync lease was held; the test wants several", midSync)
	}

	// The same data synced once by one process into a fresh database.
	cleanURL := srv.Database(t)
	var out, errb strings.Builder
	cleanEnv := map[string]string{"PMSYNC_TEST_DB": cleanURL, "JIRA_EMAIL": email, "JIRA_TOKEN": token, "ASANA_TOKEN": asanaToken}
	if code := run([]string{"sync", "--config", cfg}, &out, &errb, envOf(cleanEnv)); code != 0 {
		t.Fatalf("clean sync exit %d: %s", code, errb.String())
	}
	clean, err := postgres.Open(ctx, cleanURL)
	if err != nil {
		t.Fatal(err)
	}
	defer clean.Close()
	abandoned := 0
	for _, src := range []string{"ehr-jira", "tele-asana"} {
		got, err := db.Items(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		want, err := clean.Items(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s after %d kills differs from a clean sync (-clean +replicas):\n%s", src, kills, diff)
		}
		runs, err := db.Runs(ctx, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		statuses := map[string]int{}
		for _, r := range runs {
			statuses[r.Status]++
			if r.Status == store.RunRunning {
				t.Errorf("%s run %d is still marked running", src, r.ID)
			}
		}
		t.Logf("%s: %d items; runs %v", src, len(got), statuses)
		abandoned += statuses[store.RunAbandoned]
	}
	if abandoned == 0 {
		t.Errorf("no run was left abandoned by a killed replica: no kill landed after a run began")
	}
	if want := 700; len(jira.Issues()) != want+1 {
		t.Fatalf("jira holds %d issues, want %d", len(jira.Issues()), want+1)
	}

	if n := jg.maxInFlight(); n != 1 {
		t.Errorf("jira was pulled by %d requests at once; one connection must be pulled by one replica at a time: %q", n, jg.overlapsSeen())
		for i := range started {
			log, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("replica-%d.log", i)))
			for _, l := range strings.Split(string(log), "\n") {
				if strings.Contains(l, `"lease"`) {
					t.Logf("replica %d: %s", i, l)
				}
			}
		}
	}
	if n := ag.maxInFlight(); n != 1 {
		t.Errorf("asana was pulled by %d requests at once: %q", n, ag.overlapsSeen())
	}

	// Each rollup version reached each target once.
	seen := map[string]int{}
	for _, c := range jira.Comments(status) {
		for _, line := range strings.Split(c, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "pmsync rollup ") {
				seen["jira "+strings.TrimSpace(line)]++
			}
		}
	}
	jiraVersions := len(seen)
	for _, u := range asana.StatusUpdates(project) {
		for _, line := range strings.Split(u.Text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "pmsync rollup ") {
				seen["asana "+strings.TrimSpace(line)]++
			}
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	t.Logf("delivered %d Jira and %d Asana rollup versions; pulls in flight at most %d (jira), %d (asana)", jiraVersions, len(seen)-jiraVersions, jg.maxInFlight(), ag.maxInFlight())
	if jiraVersions < 2 || len(seen)-jiraVersions < 2 {
		t.Errorf("%d Jira and %d Asana rollup versions delivered; the test wants several of each", jiraVersions, len(seen)-jiraVersions)
	}
}
