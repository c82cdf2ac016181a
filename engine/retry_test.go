package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	_ "github.com/pmsync/pmsync/connectors/asana"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/asanasim"
	"github.com/pmsync/pmsync/store/sqlite"
)

// waits records the engine's and connectors' sleeps and returns at once.
type waits struct {
	mu sync.Mutex
	ds []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.ds = append(w.ds, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ds)
}

// asanaDaemon is a daemon configuration over asanasim with one project.
func asanaDaemon(t *testing.T, schedule string) (*asanasim.Server, *engine.Engine, *sqlite.DB, *waits) {
	t.Helper()
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	const tok = "asana-pat-engine"
	sim := asanasim.New(asanasim.Options{Token: tok, Now: clk.Now})
	project := sim.Generate("Telehealth Launch", 250, 3, clk.Now())
	ts := sim.Start()
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`database: %s
timezone: UTC
schedule: { sync: %q, rollup: "0 7 1 1 *" }
connections:
  - name: asana
    kind: asana
    base_url: %s
    auth: { token_env: ASANA_TOKEN }
programs:
  - id: telehealth
    name: Telehealth Launch
    start: 2026-01-05
    end: 2026-12-18
    sources:
      - { name: telehealth-asana, connection: asana, scope: { project: "%s" } }
`, filepath.Join(dir, "pmsync.db"), schedule, ts.URL+asanasim.BasePath, project)
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path, connectors.Default, func(k string) (string, bool) {
		if k == "ASANA_TOKEN" {
			return tok, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), c.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := &waits{}
	eng, err := engine.New(c, db, engine.Options{Log: zerolog.Nop(), Now: clk.Now, Sleep: w.sleep})
	if err != nil {
		t.Fatal(err)
	}
	return sim, eng, db, w
}

// A source whose vendor asks for a wait longer than the HTTP client sits
// out is synced again once the wait is over, ahead of a schedule that
// would come much later.
func TestRateLimitedSourceIsSyncedAgainAfterItsWait(t *testing.T) {
	sim, eng, db, w := asanaDaemon(t, "0 0 1 1 *") // next scheduled sync: next New Year
	// The first task page answers 429 asking for two minutes.
	sim.Inject(asanasim.Fault{Path: "/tasks", Status: 429, RetryAfter: 120, Times: 1})
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- eng.Run(context.Background(), stop) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		live, _, err := db.CountItems(context.Background(), "telehealth-asana")
		if err != nil {
			t.Fatal(err)
		}
		if live == 250 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d items after 20s, want the 250 tasks once the retry ran", live)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(w.all(), 120*time.Second) {
		t.Errorf("waits %v, want the 120s the vendor asked for", w.all())
	}
}

// taskCalls counts the fake's task-list requests.
func taskCalls(sim *asanasim.Server) int {
	n := 0
	for _, c := range sim.Calls() {
		if c.Path == "/tasks" {
			n++
		}
	}
	return n
}

// Early retries stop where the schedule would come first, and after three
// in a row.
func TestEarlyRetriesAreBounded(t *testing.T) {
	for _, tc := range []struct {
		name     string
		schedule string
		want     int // task-list requests in all
	}{
		{"the schedule comes first", "@every 1m", 1},
		{"three in a row at most", "0 0 1 1 *", 1 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, eng, _, w := asanaDaemon(t, tc.schedule)
			sim.Inject(asanasim.Fault{Path: "/tasks", Status: 429, RetryAfter: 120, Times: 10})
			stop := make(chan struct{})
			done := make(chan error, 1)
			go func() { done <- eng.Run(context.Background(), stop) }()
			// The waits return at once: what is due happens within moments.
			deadline := time.Now().Add(10 * time.Second)
			for taskCalls(sim) < tc.want && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := taskCalls(sim); got != tc.want {
				t.Errorf("%d task-list requests, want %d", got, tc.want)
			}
			n := 0
			for _, d := range w.all() {
				if d == 120*time.Second {
					n++
				}
			}
			if n != tc.want-1 {
				t.Errorf("%d waits of 120s, want %d", n, tc.want-1)
			}
		})
	}
}
