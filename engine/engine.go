// Package engine runs the pipeline pull → map → store → rollup → outbox →
// push, once on demand or on a cron schedule.
package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
	"github.com/pmsync/pmsync/push"
	"github.com/pmsync/pmsync/store"
)

// Store is what the engine needs of the database: the storage contract's
// roles it uses. Every backend (store/sqlite, store/postgres) implements it.
type Store interface {
	store.Items
	store.Runs
	store.Meta
	store.Snapshots
	store.Reports
	store.Outbox
	store.Leases
	store.Pruner
	store.Audit
}

// Options tune an Engine. Zero values are fine for production.
type Options struct {
	Log       zerolog.Logger
	Now       func() time.Time
	Transport http.RoundTripper // nil: each connector clones the default transport
	// Sleep waits between retries, in connectors and before a source is
	// synced again after the wait its vendor asked for; nil sleeps for
	// real. Tests replace it.
	Sleep   func(ctx context.Context, d time.Duration) error
	Metrics *Metrics // nil: no metrics
	// Connections, when not nil, names the only connections whose
	// connectors are built (a command that syncs some sources, or pushes,
	// needs those and reads no other credentials).
	Connections []string
	// ReadOnly builds no connectors: the engine can roll up what is stored
	// but not sync or push (a config loaded without secrets).
	ReadOnly bool
}

// Engine owns the connectors of one configuration and drives them.
type Engine struct {
	cfg   *config.Config
	db    Store
	log   zerolog.Logger
	now   func() time.Time
	conns map[string]connectors.Connector // by connection name
	// targets are the webhook and file targets, by target key.
	targets map[string]push.Target
	metrics *Metrics
	// syncMu serializes syncs (two runs of one source would race on its
	// cursor); pushMu serializes outbox deliveries.
	syncMu, pushMu sync.Mutex
	// holder names this process in the leases that keep two processes from
	// syncing one source at once.
	holder   string
	readOnly bool
	// leaseTTL is how long a lease lasts unrenewed; workers how many
	// connections sync at once.
	leaseTTL time.Duration
	workers  int
	// bmu guards breakers (each source's circuit breaker as this process
	// last saw it) and attempts (each source's latest attempt here).
	bmu      sync.Mutex
	breakers map[string]breaker
	attempts map[string]attempt
	// waits counts each connection's rate-limit and retry waits.
	waits *waitLog
	// sleep waits out a source's Retry-After before an early retry.
	sleep func(ctx context.Context, d time.Duration) error
	// served keeps the latest report as last read, so that Latest decodes
	// it again only when a newer one has been saved.
	served servedReport
}

// New builds the connectors of cfg. It fails if any connection cannot be
// built, naming it.
func New(cfg *config.Config, db Store, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{cfg: cfg, db: db, log: opts.Log, now: opts.Now, conns: map[string]connectors.Connector{}, metrics: opts.Metrics,
		holder: holderName(), readOnly: opts.ReadOnly, leaseTTL: cfg.Sync.LeaseTTL, workers: cfg.Sync.Workers,
		breakers: map[string]breaker{}, attempts: map[string]attempt{},
		waits: newWaitLog(opts.Now, opts.Sleep)}
	if e.leaseTTL <= 0 {
		e.leaseTTL = DefaultLeaseTTL
	}
	if e.workers < 1 {
		e.workers = 1
	}
	e.sleep = opts.Sleep
	if e.sleep == nil {
		e.sleep = httpapi.Sleep
	}
	limiters := httpapi.NewLimiters()
	var errs []error
	for _, c := range cfg.Connections {
		if opts.ReadOnly {
			break
		}
		p, err := cfg.Params(c.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Transport = opts.Transport
		p.Limiters = limiters
		if opts.Connections != nil && !slices.Contains(opts.Connections, c.Name) {
			continue
		}
		// The connector adds its kind as "connector" itself.
		p.Log = opts.Log.With().Str("connection", c.Name).Logger()
		p.Now = opts.Now
		p.Sleep = e.waits.sleeper(c.Name)
		conn, err := cfg.Registry().New(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.conns[c.Name] = conn
	}
	targets, err := newTargets(cfg, opts)
	if err != nil {
		errs = append(errs, err)
	}
	e.targets = targets
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

// ErrReadOnly is returned by Sync and Push of an engine built ReadOnly.
var ErrReadOnly = errors.New("this engine was built without connectors (read-only)")

// Config returns the configuration the engine was built from.
func (e *Engine) Config() *config.Config { return e.cfg }

// Connector returns the connector of a connection, for callers such as
// `validate --probe`.
func (e *Engine) Connector(name string) (connectors.Connector, bool) {
	c, ok := e.conns[name]
	return c, ok
}

// Check asks every connection that can check itself whether its credentials
// work, and returns one error per failing connection.
func (e *Engine) Check(ctx context.Context) error {
	var errs []error
	for _, c := range e.cfg.Connections {
		ch, ok := e.conns[c.Name].(connectors.Checker)
		if !ok {
			continue
		}
		if err := ch.Check(ctx); err != nil {
			errs = append(errs, fmt.Errorf("connection %s: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// holderName identifies this process in leases: host, PID namespace, pid
// and a random suffix (pids repeat, across restarts and containers).
func holderName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%s/%d/%x", host, pidNamespace(), os.Getpid(), b)
}

// pidNamespace names this process's PID namespace ("" where unknown): two
// containers may share a host name and both run as pid 1.
func pidNamespace() string {
	link, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(link, "pid:["), "]")
}

// deadHolder reports whether a lease holder is a process that no longer
// runs (killed without releasing its lease), so that a restart after kill -9
// need not wait for the lease to run out. Only a holder of this host and PID
// namespace can be judged; any other is presumed alive.
func deadHolder(holder, self string) bool {
	parts := strings.Split(holder, "/")
	mine := strings.Split(self, "/")
	if len(parts) != 4 || len(mine) != 4 || holder == self {
		return false
	}
	if parts[0] != mine[0] || parts[1] != mine[1] || parts[1] == "" {
		return false
	}
	pid, err := strconv.Atoi(parts[2])
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true // an earlier incarnation that had our pid
	}
	return processGone(pid)
}

// processGone reports whether pid has exited. A zombie (exited, not yet
// reaped by its parent: a restart within a second of kill -9 often finds
// one) has exited too, though signalling it still succeeds.
func processGone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	// The state follows the command name, which is in parentheses and may
	// itself hold spaces or parentheses: take the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state == 'Z' || state == 'X'
}
