package jira

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
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
	return "pmsync rollup " + r.ID + " " + r.Version
}

// Push comments each rollup on the target issue, once per rollup version:
// a version whose marker is already in a comment is reported Existing and
// not written again.
func (c *Connector) Push(ctx context.Context, target connectors.Target, rollups []pmsync.Rollup) ([]connectors.Receipt, error) {
	t, err := connectors.TargetConfig(Kind, target, CheckTarget)
	if err != nil {
		return nil, fmt.Errorf("jira connection %q: %w", c.name, err)
	}
	key := strings.TrimSpace(t.Issue)
	if len(rollups) == 0 {
		return nil, nil
	}
	posted, err := c.markers(ctx, key)
	if err != nil {
		return nil, err
	}
	receipts := make([]connectors.Receipt, 0, len(rollups))
	for _, r := range rollups {
		m := Marker(r)
		if id, ok := posted[m]; ok {
			receipts = append(receipts, connectors.Receipt{Program: r.ID, ID: id, URL: c.commentURL(key, id), Existing: true})
			continue
		}
		id, err := c.comment(ctx, key, commentLines(r))
		if err != nil {
			return receipts, c.fail(fmt.Sprintf("comment rollup of program %q on issue %s", r.ID, key), err)
		}
		posted[m] = id
		receipts = append(receipts, connectors.Receipt{Program: r.ID, ID: id, URL: c.commentURL(key, id)})
		c.log.Debug().Str("program", r.ID).Msg("jira rollup comment posted")
	}
	return receipts, nil
}

// commentURL links to one comment of an issue.
func (c *Connector) commentURL(key, id string) string {
	return c.issueURL(key) + "?focusedCommentId=" + url.QueryEscape(id)
}

// markers reads every comment of an issue and returns the rollup markers
// found, with the id of the comment holding each.
func (c *Connector) markers(ctx context.Context, key string) (map[string]string, error) {
	path := c.apiPath("issue/" + url.PathEscape(key) + "/comment")
	found := map[string]string{}
	for start := 0; ; {
		q := url.Values{
			"startAt":    {strconv.Itoa(start)},
			"maxResults": {strconv.Itoa(commentPageSize)},
		}
		var page struct {
			StartAt  int `json:"startAt"`
			Total    int `json:"total"`
			Comments []struct {
				ID   string          `json:"id"`
				Body json.RawMessage `json:"body"`
			} `json:"comments"`
		}
		if err := c.getJSON(ctx, path, q, &page); err != nil {
			return nil, c.fail("read the comments of issue "+key, err)
		}
		for _, cm := range page.Comments {
			for line := range strings.SplitSeq(bodyText(cm.Body), "\n") {
				if line = strings.TrimSpace(line); strings.HasPrefix(line, "pmsync rollup ") {
					if _, dup := found[line]; !dup {
						found[line] = cm.ID
					}
				}
			}
		}
		start = page.StartAt + len(page.Comments)
		if len(page.Comments) == 0 || start >= page.Total {
			return found, nil
		}
	}
}

// bodyText is the plain text of a comment body: a string on Data Center
// (v2), an Atlassian Document Format document on Cloud (v3).
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

// comment posts one comment and returns its id. It is not retried by the
// HTTP client: a repeat could double the comment, and the marker check of
// the next push is what makes trying again safe.
func (c *Connector) comment(ctx context.Context, key string, lines []line) (string, error) {
	var body any = renderWiki(lines)
	if c.flavor == Cloud {
		body = renderADF(lines)
	}
	var created struct {
		ID string `json:"id"`
	}
	req := httpapi.Request{
		Method: http.MethodPost,
		Path:   c.apiPath("issue/" + url.PathEscape(key) + "/comment"),
		JSON:   map[string]any{"body": body},
	}
	if err := c.doJSON(ctx, req, &created); err != nil {
		return "", err
	}
	return created.ID, nil
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

// renderADF writes the comment as an Atlassian Document Format document
// (Cloud v3 bodies): paragraphs, a bold headline and bullet lists.
func renderADF(lines []line) map[string]any {
	text := func(s string, bold bool) map[string]any {
		n := map[string]any{"type": "text", "text": s}
		if bold {
			n["marks"] = []any{map[string]any{"type": "strong"}}
		}
		return n
	}
	paragraph := func(s string, bold bool) map[string]any {
		return map[string]any{"type": "paragraph", "content": []any{text(s, bold)}}
	}
	var content []any
	var list []any
	flush := func() {
		if len(list) > 0 {
			content = append(content, map[string]any{"type": "bulletList", "content": list})
			list = nil
		}
	}
	for _, l := range lines {
		if l.text == "" {
			continue // ADF rejects empty text nodes
		}
		switch l.kind {
		case bullet:
			list = append(list, map[string]any{"type": "listItem", "content": []any{paragraph(l.text, false)}})
		default:
			flush()
			content = append(content, paragraph(l.text, l.kind == title))
		}
	}
	flush()
	return map[string]any{"type": "doc", "version": 1, "content": content}
}
