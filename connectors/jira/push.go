package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
)

// commentPageSize is the most comments Jira returns per page.
const commentPageSize = 100

// listShown is how many late milestones, red flags … a comment names before
// "and N more": enough to act on, short enough to read in ten seconds.
const listShown = 5

// Marker is the line that identifies a pushed rollup version in a comment.
// Push reads the issue's comments for it before writing, so a retried push
// never comments twice.
func Marker(r pmsync.Rollup) string {
	return markerPrefix + r.ID + " " + r.Version
}

const markerPrefix = "pmsync rollup "

// maxCommentWaits bounds how often one comment waits out a 429 before the
// push gives up; maxCommentWait caps one wait of the connector's own, when
// the 429 names no Retry-After.
const (
	maxCommentWaits = 5
	maxCommentWait  = 65 * time.Second
)

// Push comments each rollup on the target issue, once per rollup version:
// a version whose marker is already in a comment is reported Existing and
// not written again.
func (c *Connector) Push(ctx context.Context, target connectors.Target, rollups []pmsync.Rollup) ([]connectors.Receipt, error) {
	t, err := connectors.TargetConfig(Kind, target, CheckTarget)
	if err != nil {
		return nil, fmt.Errorf("jira connection %q: %w", c.name, err)
	}
	if len(rollups) == 0 {
		return nil, nil
	}
	site, err := c.siteURL(ctx)
	if err != nil {
		return nil, err
	}
	// The issue as Jira names it now: a target written with a key the
	// issue had before it was moved still reaches it, and links use the
	// current key.
	issue, _, err := c.jc.Issue.GetWithContext(ctx, strings.TrimSpace(t.Issue), &gojira.GetQueryOptions{Fields: "summary"})
	if err != nil {
		return nil, c.fail("read push target issue "+strings.TrimSpace(t.Issue), callErr(err))
	}
	key := issue.Key
	posted, err := c.markers(ctx, key, rollups)
	if err != nil {
		return nil, err
	}
	receipts := make([]connectors.Receipt, 0, len(rollups))
	for _, r := range rollups {
		m := Marker(r)
		if id, ok := posted[m]; ok {
			receipts = append(receipts, connectors.Receipt{Program: r.ID, ID: id, URL: commentURL(site, key, id), Existing: true})
			continue
		}
		id, err := c.comment(ctx, key, renderWiki(commentLines(r)))
		if err != nil {
			return receipts, c.fail(fmt.Sprintf("comment rollup of program %q on issue %s", r.ID, key), err)
		}
		posted[m] = id
		receipts = append(receipts, connectors.Receipt{Program: r.ID, ID: id, URL: commentURL(site, key, id)})
		c.log.Debug().Str("program", r.ID).Msg("jira rollup comment posted")
	}
	return receipts, nil
}

// commentURL links to one comment of an issue.
func commentURL(site, key, id string) string {
	return issueURL(site, key) + "?focusedCommentId=" + url.QueryEscape(id)
}

// markers reads the issue's comments newest first and returns the rollup
// markers found, with the id of the comment holding each. It stops as soon
// as every rollup is settled: its own marker was found, or a marker of a
// version of its program that is not being pushed, which is newer (the
// outbox never sends a version after a newer one), so an older comment
// cannot hold it. An issue with years of comments costs a page, not all of
// them.
func (c *Connector) markers(ctx context.Context, key string, rollups []pmsync.Rollup) (map[string]string, error) {
	path := "rest/api/2/issue/" + url.PathEscape(key) + "/comment"
	found := map[string]string{}
	pending := map[string]map[string]bool{} // program → versions not yet found
	for _, r := range rollups {
		if pending[r.ID] == nil {
			pending[r.ID] = map[string]bool{}
		}
		pending[r.ID][r.Version] = true
	}
	newestFirst, prev := true, time.Time{}
	for start := 0; ; {
		q := url.Values{
			"startAt":    {strconv.Itoa(start)},
			"maxResults": {strconv.Itoa(commentPageSize)},
			"orderBy":    {"-created"},
		}
		var page struct {
			StartAt  int `json:"startAt"`
			Total    int `json:"total"`
			Comments []struct {
				ID      string          `json:"id"`
				Body    json.RawMessage `json:"body"`
				Created string          `json:"created"`
			} `json:"comments"`
		}
		if _, err := c.do(ctx, http.MethodGet, path+"?"+q.Encode(), nil, &page); err != nil {
			return nil, c.fail("read the comments of issue "+key, err)
		}
		for _, cm := range page.Comments {
			// Stopping early is safe only newest first; a server that
			// ignored orderBy is read to the end.
			if t, err := parseTime(cm.Created); err == nil {
				if !prev.IsZero() && t.After(prev) {
					newestFirst = false
				}
				prev = t
			}
			for line := range strings.SplitSeq(bodyText(cm.Body), "\n") {
				line = strings.TrimSpace(line)
				rest, ok := strings.CutPrefix(line, markerPrefix)
				if !ok {
					continue
				}
				if _, dup := found[line]; !dup {
					found[line] = cm.ID
				}
				program, version, _ := strings.Cut(rest, " ")
				if vs := pending[program]; vs != nil {
					if vs[version] {
						delete(vs, version)
					}
					if len(vs) == 0 || !vs[version] && !wanted(rollups, program, version) {
						delete(pending, program)
					}
				}
			}
		}
		if len(pending) == 0 && newestFirst {
			return found, nil
		}
		start = page.StartAt + len(page.Comments)
		if len(page.Comments) == 0 || start >= page.Total {
			return found, nil
		}
	}
}

// wanted reports whether a version of a program is among the rollups.
func wanted(rollups []pmsync.Rollup, program, version string) bool {
	for _, r := range rollups {
		if r.ID == program && r.Version == version {
			return true
		}
	}
	return false
}

// bodyText is the plain text of a comment body: a string on the v2 API, an
// Atlassian Document Format document should a server send one.
func bodyText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var doc map[string]any
	if json.Unmarshal(raw, &doc) == nil {
		return adfText(doc)
	}
	return ""
}

// comment posts one comment (wiki markup, the v2 API's body on Cloud and
// Data Center alike) and returns its id. The shared client does not retry
// it: a repeat after an answer lost in transit could double the comment,
// and the marker check of the next push is what makes trying again safe.
// A 429 is different: Jira did not take the comment, so the push waits as
// Retry-After asks and sends it again.
func (c *Connector) comment(ctx context.Context, key, body string) (string, error) {
	// go-jira's IssueService.AddComment cannot express this call: it
	// marshals its Comment type with empty author, updateAuthor and
	// visibility objects, which the API documents as read-only or
	// restricting. So the request is built here and sent with go-jira's
	// NewRequest/Do.
	path := "rest/api/2/issue/" + url.PathEscape(key) + "/comment"
	for attempt := 0; ; attempt++ {
		var created gojira.Comment
		_, err := c.do(ctx, http.MethodPost, path, map[string]string{"body": body}, &created)
		var ae *connectors.APIError
		if err == nil {
			return created.ID, nil
		}
		if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || attempt >= maxCommentWaits {
			return "", err
		}
		if ae.RetryAfter > 0 {
			// The shared client has paused every request on this
			// credential for Retry-After; the resend waits its turn.
			c.log.Debug().Dur("duration", ae.RetryAfter).Msg("jira comment rate limited; waiting")
			continue
		}
		wait := min(time.Duration(attempt+1)*5*time.Second, maxCommentWait)
		c.log.Debug().Dur("duration", wait).Msg("jira comment rate limited; waiting")
		if err := c.sleep(ctx, wait); err != nil {
			return "", fmt.Errorf("wait out the rate limit: %w", err)
		}
	}
}

// lineKind is how a line of a rollup comment is rendered.
type lineKind int

const (
	title  lineKind = iota // bold headline
	para                   // a paragraph
	bullet                 // an item of the list under the previous paragraph
	marker                 // the marker line, written exactly as Marker returns it
)

// line is one line of a rollup comment.
type line struct {
	kind lineKind
	text string
}

// commentLines lays a rollup out for a reader with ten seconds: the colour
// and why, then progress, milestones, risks, budget and changes, then the
// marker line.
func commentLines(r pmsync.Rollup) []line {
	name := r.Name
	if name == "" {
		name = r.ID
	}
	out := []line{{title, fmt.Sprintf("%s: %s as of %s", name, strings.ToUpper(string(r.Health.Status)), r.AsOf)}}
	for _, reason := range r.Health.Reasons {
		out = append(out, line{bullet, reason})
	}

	out = append(out, line{para, fmt.Sprintf("Progress: %.1f%% (%d of %d done)", r.Progress.Percent, r.Progress.Done, r.Progress.Total)})

	ms := r.Milestones
	out = append(out, line{para, fmt.Sprintf("Milestones: %d of %d done, %d late, %d due soon", ms.Done, ms.Total, ms.Late, ms.DueSoon)})
	out = append(out, refLines("Late", r.Late, ms.Late)...)
	out = append(out, refLines("Due soon", r.DueSoon, ms.DueSoon)...)

	out = append(out, line{para, fmt.Sprintf("Risks: %d open, %s", r.Risks.Open, plural(r.Risks.RedFlags, "red flag"))})
	out = append(out, refLines("Red flag", r.RedFlags, r.Risks.RedFlags)...)

	out = append(out, line{para, budgetText(r.Budget)})

	if len(r.Changes) > 0 {
		out = append(out, line{para, "Changes since the last rollup:"})
		for _, ch := range r.Changes {
			out = append(out, line{bullet, ch})
		}
	}
	return append(out, line{marker, Marker(r)})
}

// refLines names up to listShown items behind a count.
func refLines(label string, refs []pmsync.ItemRef, count int) []line {
	var out []line
	for i, ref := range refs {
		if i == listShown {
			out = append(out, line{bullet, fmt.Sprintf("and %d more", max(count, len(refs))-listShown)})
			break
		}
		text := label + ": " + ref.Title
		var notes []string
		if !ref.Due.IsZero() {
			notes = append(notes, "due "+ref.Due.String())
		}
		if ref.Score > 0 {
			notes = append(notes, "score "+strconv.Itoa(ref.Score))
		}
		if ref.Owner != "" {
			notes = append(notes, ref.Owner)
		}
		if len(notes) > 0 {
			text += " (" + strings.Join(notes, ", ") + ")"
		}
		out = append(out, line{bullet, text})
	}
	return out
}

// plural writes a count with its noun, adding an s unless the count is one.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// budgetText is the budget line: what was spent of what, the burn against
// time elapsed and the forecast.
func budgetText(b pmsync.Budget) string {
	cur := ""
	if b.Currency != "" {
		cur = " " + b.Currency
	}
	text := fmt.Sprintf("Budget: %s of %s%s spent", pmsync.Money(b.Actual, 2), pmsync.Money(b.Planned, 2), cur)
	if b.BurnPercent != nil {
		text += fmt.Sprintf(" (%.1f%%)", *b.BurnPercent)
	}
	if b.ElapsedPercent != nil {
		text += fmt.Sprintf(", %.1f%% of time elapsed", *b.ElapsedPercent)
	}
	if b.VariancePoints != nil {
		text += fmt.Sprintf(", variance %+.1f points", *b.VariancePoints)
	}
	if b.Forecast != nil {
		text += fmt.Sprintf(", forecast at completion %s", pmsync.Money(*b.Forecast, 2))
	}
	return text
}

// renderWiki writes the comment in Jira wiki markup (Data Center bodies).
func renderWiki(lines []line) string {
	var b strings.Builder
	prev := para
	for i, l := range lines {
		text := l.text
		if l.kind != marker {
			text = escapeWiki(text)
		}
		if i > 0 {
			b.WriteString("\n")
			// A blank line ends a list before the next paragraph.
			if l.kind != bullet && prev == bullet {
				b.WriteString("\n")
			}
		}
		switch l.kind {
		case title:
			b.WriteString("*" + text + "*")
		case bullet:
			b.WriteString("* " + text)
		default:
			b.WriteString(text)
		}
		prev = l.kind
	}
	return b.String()
}

// escapeWiki keeps item titles from turning into wiki macros, links or
// tables.
func escapeWiki(s string) string {
	return strings.NewReplacer(`{`, `\{`, `}`, `\}`, `[`, `\[`, `]`, `\]`, `|`, `\|`).Replace(s)
}
