// Package connectors defines what a vendor connector is: the Connector
// interface, the optional capabilities found by type assertion, the registry
// every connector joins from its init function, and the errors they share.
// It holds no vendor code.
package connectors

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/pmsync/pmsync"
)

// Cursor is a connector's opaque position in a scope. The empty cursor means
// "from the beginning".
type Cursor string

// Scope is the part of a connection one source reads.
type Scope struct {
	Source string // the source name records are stamped with
	// Fields names extra vendor fields (custom fields by name) that the
	// mapping reads, so a connector fetches them and nothing else it need not.
	Fields []string
	// Config is the source's scope block as the kind's Spec.Scope decoded
	// it; only that connector reads it. It must marshal to JSON: a changed
	// scope is recognised by its JSON form.
	Config any
	// Prune, when set, lets the connector leave out of a record's data
	// whatever Paths does not reach under the record keys its kind names
	// (Spec.FieldKeys), and so skip decoding it: the mapping never reads
	// it. Each path is a key and the member names below it, naming a
	// value the mapping uses whole. Unset, records are whole.
	Prune bool       `json:"-"`
	Paths [][]string `json:"-"`
}

// Page is one page of records and the cursor to save with it. The engine
// stores everything of a page in one transaction.
type Page struct {
	Records []pmsync.Record
	// Deleted lists external ids the source reports as deleted or removed
	// from the scope (an events feed); they are tombstoned.
	Deleted []string
	// Live, when HasLive is set, is the complete list of live external ids
	// of the scope: every stored item not in it is tombstoned.
	Live    []string
	HasLive bool
	Next    Cursor
}

// Connector pulls records from one vendor connection.
type Connector interface {
	// Pull streams the records of one scope changed since cur, page by page.
	// It stops at the first error page returns.
	Pull(ctx context.Context, scope Scope, cur Cursor, page func(Page) error) error
}

// Lister lists every live external id of a scope, for deletion detection.
type Lister interface {
	ListIDs(ctx context.Context, scope Scope) ([]string, error)
}

// Target is where a rollup is pushed.
type Target struct {
	// Key names the place written to, stably across releases ("sheet=123",
	// "issue=PMO-1"): deliveries are recorded under it, so a changed key
	// would deliver every rollup version again.
	Key string
	// Config is the push target block as the kind's Spec.Target decoded it;
	// only that connector reads it.
	Config any
}

// Receipt says what a push left behind.
type Receipt struct {
	Program string
	ID      string // vendor id of what was written
	URL     string
	// Existing is true when the vendor already held this rollup version and
	// nothing new was written.
	Existing bool
}

// Pusher writes rollups back into the vendor tool. Every rollup in one call
// goes to the same target; a Pusher must write each rollup version at most
// once even if the call is retried.
type Pusher interface {
	Push(ctx context.Context, target Target, rollups []pmsync.Rollup) ([]Receipt, error)
}

// Preview is what a push would write for one program's rollup (see
// Spec.Preview).
type Preview struct {
	Program string
	// Where says what would be written, in the tool's terms ("a comment on
	// issue PMO-1", "the row of program ehr in sheet 9988").
	Where string
	// Text is the content as it would be written (for structured writes,
	// one "field: value" per line).
	Text string
}

// Checker verifies authentication and reachability.
type Checker interface {
	Check(ctx context.Context) error
}

// DeletionReporter is implemented by connectors whose pages already carry
// deletions (Page.Deleted or Page.Live); the engine then skips the costly
// periodic id listing for them.
type DeletionReporter interface {
	ReportsDeletions() bool
}

// RequestCounter reports how many HTTP requests a connector has sent.
type RequestCounter interface {
	Requests() int64
}

// Credentials are the secrets of one connection, already read from the
// environment or files.
type Credentials struct {
	Email pmsync.Secret
	Token pmsync.Secret
	Key   pmsync.Secret
}

// RateLimit overrides a vendor's default request rate. Zero values keep the
// default.
type RateLimit struct {
	PerMinute float64
	Burst     int
}

// RateLimiters hands out one shared token bucket per key (vendor and
// credential), so that connections sharing a token share its budget.
type RateLimiters interface {
	Limiter(key string, limit rate.Limit, burst int) *rate.Limiter
}

// Params is everything a connector factory gets. A connector reads nothing
// else: no environment, no globals, no default HTTP client.
type Params struct {
	Name    string // connection name
	Kind    string
	BaseURL string
	// Options are the kind's own connection keys as its Spec.Options
	// decoded them; nil when the kind has none.
	Options     any
	Credentials Credentials
	RateLimit   RateLimit
	Timeout     time.Duration // per request; 0 keeps the default
	// Overlap is how far before its cursor an incremental pull re-reads, to
	// absorb clock skew and eventually consistent search; 0 keeps the
	// connector's default.
	Overlap   time.Duration
	Transport http.RoundTripper // nil uses a private clone of the default transport
	// RootCAs, when not nil, are the only certificate authorities the
	// connection trusts (an on-premises server with a private CA); nil
	// trusts the system's. Verification is never turned off.
	RootCAs  *x509.CertPool
	Limiters RateLimiters // nil gives the connection its own buckets
	Log      zerolog.Logger
	Now      func() time.Time
	// Sleep waits between retries; nil sleeps for real. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// ErrUnknownKind is returned for a connector kind nobody registered.
var ErrUnknownKind = errors.New("unknown connector kind")

// ErrCursorInvalid is returned when a saved cursor cannot be read; the engine
// answers with a full pull.
var ErrCursorInvalid = errors.New("cursor is not valid for this connector")

// APIError is a vendor's non-success answer. It never contains a secret.
type APIError struct {
	Vendor     string
	Method     string
	Path       string // path only: no host, no query
	Status     int
	Code       string // vendor error code (Smartsheet errorCode, …)
	RefID      string // vendor reference for support (Smartsheet refId)
	RetryAfter time.Duration
	Message    string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s: %s %s: HTTP %d", e.Vendor, e.Method, e.Path, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		msg += " " + t
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Code != "" {
		msg += " (code " + e.Code + ")"
	}
	if e.RefID != "" {
		msg += " (refId " + e.RefID + ")"
	}
	return msg
}

// Temporary reports whether trying again later may succeed.
func (e *APIError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// StatusOf returns the HTTP status of an APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
