package asana

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// maxPushAttempts bounds how often one status update is tried when the
// POST fails in a way that may not have reached Asana.
const maxPushAttempts = 4

// Marker is the last line of every status update pmsync writes. It names
// the program and the rollup version, so that a push can tell whether the
// project already holds this version.
func Marker(r pmsync.Rollup) string {
	return "pmsync rollup " + r.ID + " " + r.Version
}

// StatusType is the status_type of a project status update for a health
// colour.
func StatusType(h pmsync.HealthStatus) (string, error) {
	switch h {
	case pmsync.Green:
		return "on_track", nil
	case pmsync.Amber:
		return "at_risk", nil
	case pmsync.Red:
		return "off_track", nil
	}
	return "", fmt.Errorf("health %q is not green, amber or red", h)
}

func healthLabel(h pmsync.HealthStatus) string {
	switch h {
	case pmsync.Green:
		return "On track"
	case pmsync.Amber:
		return "At risk"
	}
	return "Off track"
}

// Push posts each rollup as a status update on the target project, at most
// once per rollup version.
//
// Before posting, it lists the project's status updates created since the
// rollup's as-of day (every page of them) and skips a rollup whose marker
// line is already there (Receipt.Existing). The POST is
// never repeated blindly: when it fails in a way that may have reached Asana
// (a timeout, a lost connection, 429, 5xx), the retry starts again from the
// listing, so a status update the server stored before the answer was lost
// is found instead of posted twice.
func (c *Connector) Push(ctx context.Context, target connectors.Target, rollups []pmsync.Rollup) ([]connectors.Receipt, error) {
	t, err := connectors.TargetConfig(Kind, target, CheckTarget)
	if err != nil {
		return nil, err
	}
	out := make([]connectors.Receipt, 0, len(rollups))
	for _, r := range rollups {
		rc, err := c.pushOne(ctx, t.Project, r)
		if err != nil {
			return out, fmt.Errorf("asana: push rollup %s %s to project %s: %w", r.ID, r.Version, t.Project, err)
		}
		out = append(out, rc)
	}
	return out, nil
}

func (c *Connector) pushOne(ctx context.Context, project string, r pmsync.Rollup) (connectors.Receipt, error) {
	if r.ID == "" || r.Version == "" {
		return connectors.Receipt{}, errors.New("the rollup has no program id or version")
	}
	statusType, err := StatusType(r.Health.Status)
	if err != nil {
		return connectors.Receipt{}, err
	}
	marker := Marker(r)
	body := map[string]any{"data": map[string]any{
		"parent":      project,
		"status_type": statusType,
		"title":       Title(r),
		"text":        Text(r),
	}}
	for attempt := 1; ; attempt++ {
		gid, err := c.findStatus(ctx, project, marker, createdSince(r))
		if err != nil {
			return connectors.Receipt{}, err
		}
		if gid != "" {
			return connectors.Receipt{Program: r.ID, ID: gid, Existing: true}, nil
		}
		var created struct {
			Data struct {
				GID string `json:"gid"`
			} `json:"data"`
		}
		// Not Idempotent: the retry below re-runs the listing first, which a
		// retry inside the HTTP client would skip.
		_, err = c.write(ctx, httpapi.Request{Method: http.MethodPost, Path: "/status_updates", JSON: body}, &created)
		if err == nil && created.Data.GID != "" {
			return connectors.Receipt{Program: r.ID, ID: created.Data.GID}, nil
		}
		if err == nil {
			err = errors.New("create status update: the answer names no status update")
		}
		wait, again := retryPush(ctx, err, attempt)
		if !again {
			return connectors.Receipt{}, fmt.Errorf("create status update (attempt %d): %w", attempt, err)
		}
		c.log.Debug().Str("program", r.ID).Int("attempt", attempt).Int64("wait_ms", wait.Milliseconds()).Str("err", err.Error()).
			Msg("status update may not have been stored; checking again")
		if err := c.sleep(ctx, wait); err != nil {
			return connectors.Receipt{}, fmt.Errorf("create status update: wait before retry: %w", err)
		}
	}
}

// retryPush decides whether a failed POST is worth another round (guard,
// then POST) and how long to wait first. A vendor "no" (400, 401, 403, 404)
// is final; so is the caller giving up.
func retryPush(ctx context.Context, err error, attempt int) (time.Duration, bool) {
	if ctx.Err() != nil || attempt >= maxPushAttempts {
		return 0, false
	}
	wait := time.Duration(1<<(attempt-1)) * time.Second
	var ae *connectors.APIError
	if errors.As(err, &ae) {
		if !ae.Temporary() {
			return 0, false
		}
		if ae.RetryAfter > 0 {
			wait = ae.RetryAfter
		}
	}
	return wait, true
}

// findStatus returns the gid of the project's status update that carries
// marker, or "" when there is none. It reads every page of the updates
// created since the rollup could first have been pushed (createdSince), so
// that a busy project whose newest page no longer shows this version still
// answers right.
func (c *Connector) findStatus(ctx context.Context, project, marker string, since time.Time) (string, error) {
	q := url.Values{"parent": {project}, "opt_fields": {"text"}, "limit": {strconv.Itoa(pageSize)}}
	if !since.IsZero() {
		q.Set("created_since", since.UTC().Format(time.RFC3339))
	}
	for n := 1; ; n++ {
		var page struct {
			Data []struct {
				GID  string `json:"gid"`
				Text string `json:"text"`
			} `json:"data"`
			NextPage *struct {
				Offset string `json:"offset"`
			} `json:"next_page"`
		}
		if _, err := c.get(ctx, "/status_updates", q, &page); err != nil {
			return "", fmt.Errorf("list status updates (page %d): %w", n, err)
		}
		for _, u := range page.Data {
			for line := range strings.SplitSeq(u.Text, "\n") {
				if strings.TrimSpace(line) == marker {
					return u.GID, nil
				}
			}
		}
		if page.NextPage == nil || page.NextPage.Offset == "" {
			return "", nil
		}
		q.Set("offset", page.NextPage.Offset)
	}
}

// createdSince is the earliest time a status update for r can have been
// created: the start of its as-of day in any time zone (the day begins at
// most 14 hours before it does in UTC), less a day's margin for clock skew.
// A rollup's version covers its as-of date, so the same marker is never
// pushed before that day. The zero time (no bound) when the date is unset.
func createdSince(r pmsync.Rollup) time.Time {
	d := r.AsOf.Time()
	if d.IsZero() {
		return time.Time{}
	}
	return d.Add(-14*time.Hour - 24*time.Hour)
}

// Title is a status update's title: program, health, as-of date.
func Title(r pmsync.Rollup) string {
	name := r.Name
	if name == "" {
		name = r.ID
	}
	return fmt.Sprintf("%s — %s — %s", name, healthLabel(r.Health.Status), r.AsOf)
}

// Text is a status update's body, written to be read in ten seconds: the
// verdict and why, progress, late milestones and red-flag risks by name,
// budget burn against time elapsed, what changed since the last update, and
// the marker line last.
func Text(r pmsync.Rollup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", healthLabel(r.Health.Status), strings.Join(r.Health.Reasons, "; "))
	fmt.Fprintf(&b, "Progress: %s%% done (%d of %d); milestones %d of %d done, %d late, %d due soon\n",
		num(r.Progress.Percent, 1), r.Progress.Done, r.Progress.Total,
		r.Milestones.Done, r.Milestones.Total, r.Milestones.Late, r.Milestones.DueSoon)
	fmt.Fprintf(&b, "Late milestones: %s\n", refs(r.Late, func(x pmsync.ItemRef) string {
		if x.Due.IsZero() {
			return x.Title
		}
		return fmt.Sprintf("%s (due %s)", x.Title, x.Due)
	}))
	fmt.Fprintf(&b, "Red-flag risks: %s\n", refs(r.RedFlags, func(x pmsync.ItemRef) string {
		return fmt.Sprintf("%s (score %d)", x.Title, x.Score)
	}))
	fmt.Fprintf(&b, "Budget: %s\n", budget(r.Budget))
	changes := "no material change"
	if len(r.Changes) > 0 {
		changes = strings.Join(r.Changes, "; ")
	}
	fmt.Fprintf(&b, "Since last update: %s\n", changes)
	fmt.Fprintf(&b, "\n%s", Marker(r))
	return b.String()
}

// refs names up to five items and counts the rest.
func refs(list []pmsync.ItemRef, name func(pmsync.ItemRef) string) string {
	const show = 5
	if len(list) == 0 {
		return "none"
	}
	parts := make([]string, 0, min(len(list), show)+1)
	for i, x := range list {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(list)-show))
			break
		}
		parts = append(parts, name(x))
	}
	return strings.Join(parts, ", ")
}

func budget(b pmsync.Budget) string {
	cur := ""
	if b.Currency != "" {
		cur = " " + b.Currency
	}
	spent := fmt.Sprintf("%s of %s%s spent", pmsync.Money(b.Actual, 2), pmsync.Money(b.Planned, 2), cur)
	switch {
	case b.BurnPercent == nil:
		return fmt.Sprintf("%s%s spent, no planned budget", pmsync.Money(b.Actual, 2), cur)
	case b.ElapsedPercent == nil || b.VariancePoints == nil:
		return fmt.Sprintf("%s%% burned (%s)", num(*b.BurnPercent, 1), spent)
	}
	return fmt.Sprintf("%s%% burned vs %s%% of time elapsed (%s points); %s",
		num(*b.BurnPercent, 1), num(*b.ElapsedPercent, 1), signed(*b.VariancePoints), spent)
}

func num(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }

func signed(f float64) string {
	s := num(f, 1)
	if f >= 0 {
		s = "+" + s
	}
	return s
}
