package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync/connectors"
)

// ErrWalkIncomplete reports a Data Center walk that could not be proven to
// have read every issue of its scope: issues were deleted or moved while
// it ran, again and again. Nothing is tombstoned after it; the next walk
// tries again.
var ErrWalkIncomplete = errors.New("jira data center walk could not be proven complete")

// maxWalks bounds how often a walk that cannot be proven complete is
// repeated within one pull or listing.
const maxWalks = 3

// maxStepBack bounds the issue numbers a walk remembers, in the project it
// is walking, for stepping back over a boundary issue deleted or moved
// away.
const maxStepBack = 5000

// keyWalk is the state of a Data Center walk in key order.
//
// Data Center search pages only by offset (startAt), and an offset walk
// skips an issue whenever one before its position is deleted, moved or
// (in an updated order) edited. Relational clauses on keys avoid offsets,
// but in JQL `key > X` (and `id > N`, id being an alias of the key) means
// "the same project as X, with a higher number": it cannot carry a walk
// from one project to the next, and ids do not ascend with keys across
// projects. So the walk goes project by project in key order (project,
// then number), each page from offset 0:
//
//	<scope> AND project NOT IN (<projects finished>)
//	  AND (project != P OR key > P-n) ORDER BY key ASC
//
// where P-n is the last issue read. The page continues P past n and then
// runs on into the next project, which marks P finished. No assumption is
// made about the order of projects.
type keyWalk struct {
	filter string   // the scope's condition, no order; may be empty
	done   []string // projects read to their end
	proj   string   // the project being read; "" before the first issue
	read   []int64  // numbers read in proj, ascending; the last is the boundary
}

// jql is the query of the next page.
func (w *keyWalk) jql() string {
	var parts []string
	if w.filter != "" {
		parts = append(parts, w.filter)
	}
	if len(w.done) > 0 {
		q := make([]string, len(w.done))
		for i, p := range w.done {
			q[i] = strconv.Quote(p)
		}
		parts = append(parts, "project NOT IN ("+strings.Join(q, ", ")+")")
	}
	if n := len(w.read); w.proj != "" && n > 0 {
		parts = append(parts, fmt.Sprintf("(project != %s OR key > %s)",
			strconv.Quote(w.proj), strconv.Quote(w.proj+"-"+strconv.FormatInt(w.read[n-1], 10))))
	}
	return ordered(strings.Join(parts, " AND "), "key ASC")
}

// stepBack drops the boundary, so the next page starts after the issue
// read before it (or at the start of the project).
func (w *keyWalk) stepBack() {
	if len(w.read) > 0 {
		w.read = w.read[:len(w.read)-1]
	}
}

// finish marks the project being read as read to its end.
func (w *keyWalk) finish() {
	if w.proj != "" {
		w.done = append(w.done, w.proj)
	}
	w.proj, w.read = "", nil
}

// advance takes in one page of issues in the server's order. It reports
// whether the page, asked for the issues after a boundary, began in
// another project or was empty (jumped): the project may have ended
// exactly at the last page's end, or the boundary issue may have been
// moved to another project, which moves the range with it. The caller then
// steps back, so that the next page shows which.
func (w *keyWalk) advance(issues []map[string]any) (jumped bool, err error) {
	if len(issues) == 0 && w.proj != "" && len(w.read) > 0 {
		return true, nil
	}
	for i, is := range issues {
		key, _ := is["key"].(string)
		proj, n, ok := splitKey(key)
		if !ok {
			return false, fmt.Errorf("issue %s has key %q, not PROJECT-n", idOf(is["id"]), key)
		}
		if proj == w.proj {
			if m := len(w.read); m > 0 && n <= w.read[m-1] {
				return false, fmt.Errorf("issue %s follows %s-%d: the server did not order by key", key, w.proj, w.read[m-1])
			}
			w.read = append(w.read, n)
			continue
		}
		if slices.Contains(w.done, proj) {
			return false, fmt.Errorf("issue %s is in project %s, which the query excluded", key, proj)
		}
		if w.proj != "" {
			if i > 0 {
				// The page ran past the end of w.proj into proj.
				w.done = append(w.done, w.proj)
			} else if len(w.read) > 0 {
				jumped = true
			}
		}
		if jumped && i == 0 {
			// Keep w.proj and its boundary: the caller steps back into it.
			// The rest of this page is handed over (re-reading is harmless)
			// but not taken as progress.
			return true, nil
		}
		w.proj, w.read = proj, []int64{n}
	}
	if len(w.read) > maxStepBack {
		w.read = slices.Clone(w.read[len(w.read)-maxStepBack:])
	}
	return false, nil
}

// splitKey splits PROJECT-n.
func splitKey(key string) (string, int64, bool) {
	i := strings.LastIndexByte(key, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(key[i+1:], 10, 64)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return key[:i], n, true
}

// walkByKey walks a Data Center search in key order (see keyWalk) and
// hands each page to each; only the final page is marked last. filter is
// the query without an order (it may be empty). The context is checked
// before every page, so a cancelled pull stops within one page.
func (c *Connector) walkByKey(ctx context.Context, filter string, fields []string, keep *keepTree, size int, each func(searchPage) error) error {
	start := 0
	req := searchRequest{StartAt: &start, MaxResults: size, Fields: fields, keep: keep}
	w := &keyWalk{filter: filter}
	jumps := map[string]bool{} // queries whose answer began in another project
	for n := 1; ; n++ {
		req.JQL = w.jql()
		resp, date, err := c.searchOnce(ctx, n, req)
		if err != nil && len(w.read) > 0 && isMissingIssue(err) {
			// The boundary issue was deleted: Jira rejects a range from an
			// issue that does not exist. Start after the one before it.
			w.stepBack()
			n--
			continue
		}
		if err != nil {
			return err
		}
		jumped, err := w.advance(resp.Issues)
		if err == nil && jumped && jumps[req.JQL] {
			// Asked again after stepping back, the same range jumped again:
			// the boundary issue is where it was, so its project ended
			// there.
			w.finish()
			jumped, err = w.advance(resp.Issues)
		}
		if err != nil {
			return fmt.Errorf("jira connection %q: search page %d: %w", c.name, n, err)
		}
		if jumped {
			jumps[req.JQL] = true
			w.stepBack()
		}
		// total counts the issues the page's query matches, this page's
		// included.
		last := !jumped && (len(resp.Issues) == 0 || len(resp.Issues) >= resp.Total)
		if err := each(searchPage{issues: resp.Issues, last: last, date: date}); err != nil {
			return err
		}
		if last {
			return nil
		}
		// Data Center caps maxResults (jira.search.views.default.max); ask
		// for what it will serve.
		if resp.MaxResults > 0 && resp.MaxResults < req.MaxResults {
			req.MaxResults = resp.MaxResults
		}
	}
}

// provenWalk walks a scope by key and proves the walk read every issue
// live at its end before it hands over the last page; the engine
// tombstones whatever a full pull did not see, and a listing's gaps would
// be tombstoned too. A walk can miss an issue moved behind it within the
// scope (a move gives the issue a key in its new project), one moved into
// the scope, or one created in a project already read. So after the walk
// it lists the issues created since the walk began (the minute before it,
// in the user's zone, as JQL reads dates), counts the scope's issues, and
// accepts the walk when the issues read plus those created number exactly
// the count. An issue deleted during the walk after it was read makes the
// numbers differ too, and the walk is repeated (at most maxWalks times).
// When the proof fails every time, the last page is handed over all the
// same and ErrWalkIncomplete returned: what was read is good, only
// tombstoning must wait.
func (c *Connector) provenWalk(ctx context.Context, filter string, fields []string, keep *keepTree, size int, each func(searchPage) error) error {
	zone, err := c.fetchZone(ctx)
	if err != nil {
		return c.fail("read the user's time zone", err)
	}
	var total, read int
	for attempt := 1; attempt <= maxWalks; attempt++ {
		started, first := c.now(), true
		ids := map[string]bool{}
		var held searchPage
		err := c.walkByKey(ctx, filter, fields, keep, size, func(sp searchPage) error {
			if first && !sp.date.IsZero() {
				started = sp.date // the server's clock, as created is
			}
			first = false
			for _, is := range sp.issues {
				ids[idOf(is["id"])] = true
			}
			if sp.last {
				held = sp
				return nil
			}
			return each(sp)
		})
		if err != nil {
			return err
		}
		since := started.Add(-time.Minute).In(zone).Format(jqlTimeLayout)
		created := filter
		if created != "" {
			created += " AND "
		}
		created += `created >= "` + since + `"`
		err = c.walkByKey(ctx, created, []string{"id"}, nil, dcIDPageSize, func(sp searchPage) error {
			for _, is := range sp.issues {
				ids[idOf(is["id"])] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if total, err = c.count(ctx, filter); err != nil {
			return err
		}
		read = len(ids)
		if read == total {
			return each(held)
		}
		c.log.Warn().Int("records", read).Int("total", total).Int("attempt", attempt).Msg("jira walk not proven complete; walking again")
		if attempt < maxWalks {
			held.last = false
		}
		if err := each(held); err != nil {
			return err
		}
	}
	return fmt.Errorf("jira connection %q: %w: %d issues read, the scope holds %d (issues were deleted or moved while it ran); nothing is tombstoned until a walk is", c.name, ErrWalkIncomplete, read, total)
}

// count returns how many issues a query matches.
func (c *Connector) count(ctx context.Context, filter string) (int, error) {
	start := 0
	resp, _, err := c.searchOnce(ctx, 0, searchRequest{JQL: filter, StartAt: &start, MaxResults: 0, Fields: []string{"id"}})
	if err != nil {
		return 0, err
	}
	return resp.Total, nil
}

// isMissingIssue reports whether err is Jira's 400 for a JQL clause naming
// an issue that does not exist (any more).
func isMissingIssue(err error) bool {
	var ae *connectors.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, "does not exist for field")
}
