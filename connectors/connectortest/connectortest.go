// Package connectortest is the contract every connector meets, in the spirit
// of testing/fstest: one Run that each connector's tests call with a harness
// around its vendor fake.
package connectortest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pmsync/pmsync/connectors"
)

// Fake drives a connector's vendor simulator.
type Fake interface {
	// Change modifies k records at the vendor (moving the fake's clock past
	// any overlap window the connector uses) and returns their external ids.
	Change(t *testing.T, k int) []string
	// Delete removes one record at the vendor and returns its external id.
	Delete(t *testing.T) string
	// Fail makes the next `times` data requests answer with status, in the
	// vendor's own error shape (429 with its retry hint).
	Fail(t *testing.T, status, times int)
	// Malformed makes the next data request answer 200 with broken JSON.
	Malformed(t *testing.T)
	// Secret is the credential the connector was given; it must never
	// appear in an error.
	Secret() string
}

// Harness builds a connector against a fresh fake.
type Harness struct {
	// Records is how many records the fake is seeded with; it should span
	// several pages.
	Records int
	// New starts a fake seeded with Records records and returns a connector
	// for it, built with a Params.Sleep that does not really sleep. With
	// badAuth the connector gets a wrong credential.
	New func(t *testing.T, badAuth bool) (connectors.Connector, connectors.Scope, Fake)
}

// Run checks the shared connector contract.
func Run(t *testing.T, h Harness) {
	t.Helper()
	t.Run("FullPullFromEmptyCursor", func(t *testing.T) {
		c, scope, _ := h.New(t, false)
		ids, pages, next := pullAll(t, c, scope, "")
		if len(ids) != h.Records {
			t.Fatalf("full pull returned %d distinct records, want %d", len(ids), h.Records)
		}
		if pages < 2 {
			t.Errorf("full pull of %d records came in %d page(s); the harness should span several", h.Records, pages)
		}
		if next == "" {
			t.Errorf("full pull ended with an empty cursor")
		}
	})
	t.Run("CursorAdvancesAndPicksUpChanges", func(t *testing.T) {
		c, scope, fake := h.New(t, false)
		_, _, cur := pullAll(t, c, scope, "")
		changed := fake.Change(t, 3)
		ids, _, next := pullAll(t, c, scope, cur)
		for _, id := range changed {
			if _, ok := ids[id]; !ok {
				t.Errorf("incremental pull missed changed record %s", id)
			}
		}
		if len(ids) >= h.Records {
			t.Errorf("incremental pull re-read %d records; it should read only what changed", len(ids))
		}
		if next == "" {
			t.Errorf("incremental pull ended with an empty cursor")
		}
	})
	t.Run("DeletionIsReported", func(t *testing.T) {
		c, scope, fake := h.New(t, false)
		_, _, cur := pullAll(t, c, scope, "")
		gone := fake.Delete(t)
		if l, ok := c.(connectors.Lister); ok {
			live, err := l.ListIDs(context.Background(), scope)
			if err != nil {
				t.Fatalf("ListIDs: %v", err)
			}
			if slices.Contains(live, gone) || len(live) != h.Records-1 {
				t.Errorf("ListIDs has %d ids (deleted %s present: %v), want %d without it", len(live), gone, slices.Contains(live, gone), h.Records-1)
			}
			return
		}
		var reported bool
		err := c.Pull(context.Background(), scope, cur, func(p connectors.Page) error {
			if slices.Contains(p.Deleted, gone) || (p.HasLive && !slices.Contains(p.Live, gone)) {
				reported = true
			}
			return nil
		})
		if err != nil {
			t.Fatalf("incremental pull: %v", err)
		}
		if !reported {
			t.Errorf("neither ListIDs nor the incremental pull reported deleted record %s", gone)
		}
	})
	t.Run("CancelStopsPaging", func(t *testing.T) {
		c, scope, _ := h.New(t, false)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pages := 0
		err := c.Pull(ctx, scope, "", func(connectors.Page) error {
			pages++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Pull after cancel returned %v, want context.Canceled", err)
		}
		if pages != 1 {
			t.Errorf("Pull delivered %d pages after cancel, want 1", pages)
		}
	})
	t.Run("CallbackErrorStops", func(t *testing.T) {
		c, scope, _ := h.New(t, false)
		boom := errors.New("disk full")
		pages := 0
		err := c.Pull(context.Background(), scope, "", func(connectors.Page) error { pages++; return boom })
		if !errors.Is(err, boom) || pages != 1 {
			t.Errorf("Pull returned %v after %d pages, want the callback's error after 1", err, pages)
		}
	})
	t.Run("Unauthorized", func(t *testing.T) {
		c, scope, fake := h.New(t, true)
		err := c.Pull(context.Background(), scope, "", func(connectors.Page) error { return nil })
		if connectors.StatusOf(err) != 401 {
			t.Fatalf("Pull with a bad credential returned %v, want an APIError with status 401", err)
		}
		if s := fake.Secret(); s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error text contains the credential: %v", err)
		}
	})
	for _, tc := range []struct {
		name          string
		status, times int
	}{{"RateLimitedThenOK", 429, 1}, {"ServerErrorTwiceThenOK", 500, 2}, {"UnavailableThenOK", 503, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			c, scope, fake := h.New(t, false)
			fake.Fail(t, tc.status, tc.times)
			ids, _, _ := pullAll(t, c, scope, "")
			if len(ids) != h.Records {
				t.Errorf("after %d×%d the pull returned %d records, want %d", tc.times, tc.status, len(ids), h.Records)
			}
		})
	}
	t.Run("MalformedJSONIsAnError", func(t *testing.T) {
		c, scope, fake := h.New(t, false)
		fake.Malformed(t)
		pages := 0
		err := c.Pull(context.Background(), scope, "", func(connectors.Page) error { pages++; return nil })
		if err == nil {
			t.Fatalf("Pull of a malformed response succeeded with %d pages", pages)
		}
	})
	t.Run("GarbageCursorIsInvalid", func(t *testing.T) {
		c, scope, _ := h.New(t, false)
		err := c.Pull(context.Background(), scope, "\x00not-a-cursor", func(connectors.Page) error { return nil })
		if !errors.Is(err, connectors.ErrCursorInvalid) {
			t.Errorf("Pull with a garbage cursor returned %v, want ErrCursorInvalid", err)
		}
	})
}

// pullAll pulls until the connector stops, checking that no record appears
// twice, and returns the distinct ids, the page count and the last cursor.
func pullAll(t *testing.T, c connectors.Connector, scope connectors.Scope, cur connectors.Cursor) (map[string]struct{}, int, connectors.Cursor) {
	t.Helper()
	ids := map[string]struct{}{}
	pages := 0
	next := cur
	err := c.Pull(context.Background(), scope, cur, func(p connectors.Page) error {
		pages++
		for _, r := range p.Records {
			if _, dup := ids[r.ExternalID]; dup {
				t.Errorf("record %s delivered twice in one pull", r.ExternalID)
			}
			ids[r.ExternalID] = struct{}{}
			if r.Source != scope.Source {
				t.Errorf("record %s has source %q, want %q", r.ExternalID, r.Source, scope.Source)
			}
			if r.UpdatedAt.IsZero() || r.Data == nil {
				t.Errorf("record %s lacks updated_at or data", r.ExternalID)
			}
		}
		if p.Next != "" {
			next = p.Next
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	return ids, pages, next
}
