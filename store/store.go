// Package store is pmsync's storage contract in domain terms: the records
// a sync, a rollup and a push exchange with the database, and the
// interfaces a backend implements, split by role. It holds no driver:
// store/sqlite (the embedded default) and store/postgres implement it, and
// engine and web depend on this package only. storetest is the contract
// suite every backend passes.
//
// Times are kept to the microsecond at least (PostgreSQL's resolution) and
// read back in UTC; an item written again with the same times to that
// precision is unchanged.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pmsync/pmsync"
)

// The fields whose changes are recorded in an item's history.
const (
	FieldKind      = "kind"
	FieldState     = "state"
	FieldDue       = "due"
	FieldMilestone = "milestone"
	// FieldDeleted records a tombstone being set (Old "", New the time) or
	// lifted (Old the time, New "").
	FieldDeleted = "deleted"
)

// Quarantined is a source record that failed to map, with the reason.
type Quarantined struct {
	Source     string
	ExternalID string
	Reason     string
	// At is when the record failed; Quarantine returns the latest failure.
	At time.Time
	// FirstSeen is when the record first failed. Quarantine fills it;
	// ApplyPage ignores it.
	FirstSeen time.Time
}

// PageWrite is everything one page of a sync writes, in one transaction.
type PageWrite struct {
	// Fence, when set, must still hold: the page is refused with ErrFenced
	// once the lease has passed to another holder.
	Fence      Fence
	Source     string
	RunID      int64 // the run that pulled the page; 0 when none
	Items      []pmsync.Item
	Quarantine []Quarantined
	Cursor     string // saved with the page
	At         time.Time
	// Deleted lists external ids the source reported deleted.
	Deleted []string
	// Live, when HasLive is set, is the complete list of the source's live
	// external ids: every other live item of the source is tombstoned.
	Live    []string
	HasLive bool
}

// Check refuses a page that cannot be written whole: one without a source,
// an item of another source or one that fails pmsync.Item.Validate, a
// quarantine entry of another source or without an external id. Every
// backend checks a page with it before writing any of it.
func (w PageWrite) Check() error {
	if w.Source == "" {
		return errors.New("apply page: source is empty")
	}
	for _, it := range w.Items {
		if it.Source != w.Source {
			return fmt.Errorf("apply page of source %q: item %q belongs to source %q", w.Source, it.ExternalID, it.Source)
		}
		if err := it.Validate(); err != nil {
			return fmt.Errorf("apply page of source %q: invalid item %q: %w", w.Source, it.ExternalID, err)
		}
	}
	for _, q := range w.Quarantine {
		if q.Source != "" && q.Source != w.Source {
			return fmt.Errorf("apply page of source %q: quarantined record %q belongs to source %q", w.Source, q.ExternalID, q.Source)
		}
		if q.ExternalID == "" {
			return fmt.Errorf("apply page of source %q: quarantined record has no external id", w.Source)
		}
	}
	return nil
}

// PageResult counts what a page changed.
type PageResult struct {
	Changed     int // items inserted or updated
	Quarantined int // quarantine entries written
	Deleted     int // items tombstoned
}

// Change is one recorded change of an item field.
type Change struct {
	Source     string
	ExternalID string
	RunID      int64 // 0 when the change came from no run
	At         time.Time
	Field      string
	Old, New   string
}

// Run statuses. A run is RunRunning from StartRun until FinishRun; one that
// never finishes (the process died) stays so.
const (
	RunRunning   = "running"
	RunOK        = "ok"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
	// RunStopped is a run ended early on request (SIGTERM) after a complete
	// page; its data is consistent but it did not reach the end.
	RunStopped = "stopped"
	// RunAbandoned is a run whose process died before finishing it (kill -9,
	// power loss); AbandonRuns closes such runs.
	RunAbandoned = "abandoned"
)

// Run is one sync of one source.
type Run struct {
	ID       int64
	Source   string
	Full     bool
	Started  time.Time
	Finished time.Time // zero while running
	Status   string
	Requests int64
	Seen     int
	Changed  int
	// Quarantined and Deleted count records quarantined and items tombstoned.
	Quarantined int
	Deleted     int
	Error       string
}

// RunResult is how a run ended.
type RunResult struct {
	Status   string // RunOK, RunFailed, RunCancelled or RunStopped
	Requests int64
	Seen     int
	Changed  int
	// Quarantined and Deleted count records quarantined and items tombstoned.
	Quarantined int
	Deleted     int
	Error       string
}

// Push statuses. A push moves pending → sending → delivered, or sending →
// failed → sending again; delivered is final, which is what keeps a
// rollup version from going out twice.
const (
	PushPending   = "pending"
	PushSending   = "sending"
	PushDelivered = "delivered"
	PushFailed    = "failed"
)

// ErrPushState is returned when a push is not in a status that allows the
// requested move (for example, sending a delivered push again).
var ErrPushState = errors.New("push status does not allow this")

// Push is one rollup version queued for one target.
type Push struct {
	ID        int64
	Target    string
	Program   string
	Version   string
	Payload   []byte
	Status    string
	Attempts  int
	LastError string
	Receipt   string
	Created   time.Time
	Updated   time.Time
}

// Outcomes of a push attempt, as the push audit records them.
const (
	// DeliveryDelivered: the target received the rollup version.
	DeliveryDelivered = "delivered"
	// DeliveryExisting: the target already held the version (an earlier
	// attempt wrote it and died before recording so); nothing new was
	// written.
	DeliveryExisting = "existing"
	// DeliveryFailed: the attempt failed; the push is tried again.
	DeliveryFailed = "failed"
	// DeliverySuperseded: the push was closed unsent because a newer
	// rollup of the program replaced it.
	DeliverySuperseded = "superseded"
)

// PushOutcome is how one attempt at a push ended. The move of the push in
// the outbox and its audit entry are written in one transaction.
type PushOutcome struct {
	// Outcome is one of the Delivery values; empty means the one the method
	// stands for (delivered, failed or superseded).
	Outcome string
	At      time.Time
	// PayloadHash is the SHA-256, in hex, of the rollup document handed to
	// the target; empty, the store hashes the queued payload.
	PayloadHash string
	// Payload is kept in the audit entry when not nil (the configuration
	// asks for it); otherwise the entry holds the hash only.
	Payload []byte
	// Receipt is what the target left (an id or URL) for a delivery, or
	// why a push was superseded.
	Receipt string
	// Error is why the attempt failed.
	Error string
}

// Delivery is one entry of the push audit: an outcome of one push.
type Delivery struct {
	ID      int64
	PushID  int64 // the outbox entry, which may since have been pruned
	Target  string
	Program string
	Version string
	// Attempt counts the attempts at the push so far, this one included
	// (0 for a push superseded before any attempt).
	Attempt int
	PushOutcome
}

// DeliveryFilter selects audit entries. Zero fields select everything.
type DeliveryFilter struct {
	Target  string
	Program string
	Version string
	Outcome string
	Since   time.Time // entries at or after
	Until   time.Time // entries before
	Limit   int       // the newest Limit entries; 0 for all
}

// Snapshot is one stored rollup of a program.
type Snapshot struct {
	Program string
	AsOf    pmsync.Date
	Version string
	At      time.Time
	Rollup  pmsync.Rollup
}

// ChangeQuery selects recorded item changes for the rollup: the due-date
// history of milestones (baselines, slips) and moves into done
// (throughput).
type ChangeQuery struct {
	Sources []string      // the items' sources; empty means every source
	Fields  []string      // the changed fields (FieldDue, …); empty means every field
	Kinds   []pmsync.Kind // the items' kinds as stored now; empty means any kind
	Since   time.Time     // changes at or after this time; zero means all
	New     []string      // changes to one of these values; empty means any value
}

// ErrNotFound is returned when a run or push addressed by id does not exist.
var ErrNotFound = errors.New("not found")

// Items keeps the mapped items of every source, their field history and
// the records that failed to map.
type Items interface {
	// ApplyPage writes one page of a sync (items, quarantine, deletions and
	// the cursor) in one transaction.
	ApplyPage(ctx context.Context, w PageWrite) (PageResult, error)
	// Tombstone marks every live item of source not in live as deleted and
	// reports how many it marked. A set fence must still hold (ErrFenced).
	Tombstone(ctx context.Context, fence Fence, source string, live []string, at time.Time) (int, error)
	// Items returns the items of the sources (every source when none is
	// named), tombstones included (Item.Deleted tells them apart), ordered
	// by source and external id, byte-wise.
	Items(ctx context.Context, sources ...string) ([]pmsync.Item, error)
	// Item returns one item, deleted or not.
	Item(ctx context.Context, source, externalID string) (pmsync.Item, bool, error)
	// Changes returns the recorded field changes of an item, oldest first.
	Changes(ctx context.Context, source, externalID string) ([]Change, error)
	// CountItems counts a source's live and deleted items.
	CountItems(ctx context.Context, source string) (live, deleted int, err error)
	// ChangeLog returns the recorded changes q selects, oldest first.
	ChangeLog(ctx context.Context, q ChangeQuery) ([]Change, error)
	// FirstSeen returns the items of the sources (every source when none
	// is named) that the store first saw at or after since, with when,
	// ordered by source and external id. Tombstones are included.
	FirstSeen(ctx context.Context, since time.Time, sources ...string) ([]pmsync.Seen, error)
	// Quarantine returns the quarantined records of a source (every source
	// when source is empty), ordered by source and external id.
	Quarantine(ctx context.Context, source string) ([]Quarantined, error)
	// RollupFacts returns the rollup facts of a source's items: what
	// pmsync.FactsOf makes of Items(ctx, source), tombstones included. A
	// backend keeps them from one call to the next and makes them anew
	// only after the source's items changed (every write to them advances
	// the source's version in the same transaction), so that a rollup
	// reads an unchanged source without reading its items.
	RollupFacts(ctx context.Context, source string) (pmsync.Facts, error)
}

// Runs records sync runs and keeps each source's cursor.
type Runs interface {
	StartRun(ctx context.Context, source string, full bool, at time.Time) (int64, error)
	FinishRun(ctx context.Context, id int64, res RunResult, at time.Time) error
	// Runs returns a source's latest runs (every source when source is
	// empty), newest first.
	Runs(ctx context.Context, source string, limit int) ([]Run, error)
	// LastSuccess returns when the source last synced successfully and the
	// error of its latest run when that one failed.
	LastSuccess(ctx context.Context, source string) (time.Time, string, error)
	// FirstSuccess returns when the source's first successful sync
	// finished, or the zero time when none has: items first seen after it
	// are new work, not the initial load.
	FirstSuccess(ctx context.Context, source string) (time.Time, error)
	Cursor(ctx context.Context, source string) (string, error)
	// ResetCursor forgets a source's cursor, so that its next pull is full.
	// A set fence must still hold (ErrFenced).
	ResetCursor(ctx context.Context, fence Fence, source string) error
	// AbandonRuns closes the source's runs left running by a process that
	// died, and reports how many.
	AbandonRuns(ctx context.Context, source string, at time.Time) (int, error)
}

// Meta keeps small named values (fingerprints of what a cursor was made
// for, and the like).
type Meta interface {
	Meta(ctx context.Context, key string) (string, bool, error)
	SetMeta(ctx context.Context, key, value string) error
}

// Snapshots keeps the rollup history of every program.
type Snapshots interface {
	// SaveSnapshot stores r unless the program's newest snapshot already
	// has its version, and reports whether it stored it.
	SaveSnapshot(ctx context.Context, r pmsync.Rollup, at time.Time) (bool, error)
	LatestSnapshot(ctx context.Context, program string) (Snapshot, bool, error)
	// Snapshots returns a program's latest snapshots, newest first.
	Snapshots(ctx context.Context, program string, limit int) ([]Snapshot, error)
	// SnapshotsSince returns a program's snapshots whose as-of date is on
	// or after from, oldest first, preceded by the newest one before from
	// (the state a window opens with), if any: the history a rollup reads.
	// Their rollups hold only their figures (pmsync.Rollup.Figures).
	SnapshotsSince(ctx context.Context, program string, from pmsync.Date) ([]Snapshot, error)
}

// Reports keeps the latest computed rollup document, which the dashboard
// and the API serve instead of recomputing per request.
type Reports interface {
	// SaveReport replaces the latest report with rep.
	SaveReport(ctx context.Context, rep pmsync.Report, at time.Time) error
	// LatestReport returns the latest report, when it was saved, and
	// whether there is one.
	LatestReport(ctx context.Context) (pmsync.Report, time.Time, bool, error)
	// ReportRevision returns the latest report's revision: a number that
	// grows with every SaveReport, 0 before the first. A reader keeps
	// what it read of a report while the revision stays the same.
	ReportRevision(ctx context.Context) (int64, error)
}

// Outbox queues rollup versions for push targets and records how each
// delivery went; a version reaches a target at most once. Every outcome
// (delivered, failed, superseded) also adds an entry to the push audit in
// the same transaction, so that no delivery goes unrecorded.
type Outbox interface {
	Enqueue(ctx context.Context, target, program, version string, payload []byte, at time.Time) (bool, error)
	PendingPushes(ctx context.Context, target string) ([]Push, error)
	ClaimPush(ctx context.Context, id int64, at time.Time, lease time.Duration) (bool, error)
	// SupersedePush closes push id unsent unless another process is
	// sending it (a claim younger than lease), and audits it as
	// superseded; o.Receipt says why.
	SupersedePush(ctx context.Context, id int64, o PushOutcome, lease time.Duration) (bool, error)
	// MarkDelivered records that push id arrived (o.Outcome delivered or
	// existing, o.Receipt what the target left). Delivered is final: a
	// second call fails with ErrPushState.
	MarkDelivered(ctx context.Context, id int64, o PushOutcome) error
	// MarkFailed records that an attempt at push id failed (o.Error why),
	// so that it is retried.
	MarkFailed(ctx context.Context, id int64, o PushOutcome) error
	// LookupPush returns the push of a version of a program to a target,
	// whatever its status, and whether there is one (what a dry run
	// reports as unchanged).
	LookupPush(ctx context.Context, target, program, version string) (Push, bool, error)
}

// Audit lists the push audit: every outcome of every push, kept apart from
// the outbox so that it outlives the outbox's own history.
type Audit interface {
	// Deliveries returns the entries f selects, newest first.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// PruneDeliveries deletes the entries older than before and reports
	// how many it deleted.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}

// Retention says how long a backend keeps each kind of history; a zero
// field keeps that kind forever. Whatever its age, a prune never removes
// what the running system still reads:
//   - SyncRuns: finished runs that started before the cutoff go, except each
//     source's newest run, its newest finished one and its newest
//     successful one (LastSuccess reads them) and its first successful one
//     (FirstSuccess); a run still marked running stays.
//   - ItemChanges: changes recorded before the cutoff go, except the oldest
//     recorded change of each field of each item (a milestone's first due
//     date is its baseline).
//   - Snapshots: snapshots saved before the cutoff go, except each
//     program's newest (the next rollup compares itself with it).
//   - Outbox: delivered pushes (superseded ones included) last updated
//     before the cutoff go; pending, sending and failed pushes are work
//     still to do and stay. A rollup version names its as-of day, so a
//     version older than two days cannot be queued again.
//   - DeletedItems: items tombstoned before the cutoff go, with their field
//     history.
type Retention struct {
	SyncRuns     time.Duration
	ItemChanges  time.Duration
	Snapshots    time.Duration
	Outbox       time.Duration
	DeletedItems time.Duration
}

// Pruned counts the rows one prune removed, by kind of history.
type Pruned struct {
	SyncRuns     int
	ItemChanges  int
	Snapshots    int
	Outbox       int
	DeletedItems int
}

// Pruner removes history past a retention policy.
type Pruner interface {
	// Prune removes, as of now, the history r no longer keeps and reports
	// how much it removed. Each kind is removed in its own transactions, so
	// a prune cut short leaves every table consistent.
	Prune(ctx context.Context, r Retention, now time.Time) (Pruned, error)
}

// Leases keep two processes (a daemon and a CLI run, or replicas on one
// database) from doing one job at once. A lease has a fencing token that
// grows every time the lease passes to another holder (never when its
// holder renews it, and never back: a released lease keeps its token), so a
// write carrying an older Fence is refused even if its process still
// believes it holds the lease.
type Leases interface {
	// AcquireLease takes or renews the lease name for holder until at + ttl.
	// It succeeds when nobody holds the lease, when holder already does, or
	// when the other holder's lease has run out; on success the Fence
	// carries the lease's token.
	AcquireLease(ctx context.Context, name, holder string, at time.Time, ttl time.Duration) (Fence, bool, error)
	// ReleaseLease gives up holder's lease name (it runs out at once);
	// someone else's is left alone.
	ReleaseLease(ctx context.Context, name, holder string) error
	// LeaseHolder returns who holds lease name, if anyone (run out or not).
	LeaseHolder(ctx context.Context, name string) (string, bool, error)
	// TakeOverLease hands lease name from a holder known to be dead to
	// holder, provided from still holds it; the token grows.
	TakeOverLease(ctx context.Context, name, from, holder string, at time.Time, ttl time.Duration) (Fence, bool, error)
	// Leases lists every lease, for operators.
	Leases(ctx context.Context) ([]Lease, error)
}

// Fence proves a writer still holds a lease. The zero Fence checks
// nothing (a write outside any lease, such as a test's).
type Fence struct {
	Lease  string
	Holder string
	Token  int64
}

// Lease is one lease as stored.
type Lease struct {
	Name    string
	Holder  string
	Token   int64
	Expires time.Time
}

// ErrFenced is returned by a write whose Fence no longer holds: the lease
// has passed to another holder since it was taken.
var ErrFenced = errors.New("the lease has passed to another holder")

// Store is a whole backend.
type Store interface {
	Items
	Runs
	Meta
	Snapshots
	Reports
	Outbox
	Audit
	Leases
	Pruner
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
}
