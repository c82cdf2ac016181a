package trello

import (
	"strings"
	"testing"

	"github.com/pmsync/pmsync"
)

func TestNextMilestone(t *testing.T) {
	r := pmsync.Rollup{
		Late:    []pmsync.ItemRef{{Title: "Build complete", Due: "2026-11-10"}, {Title: "Undated"}},
		DueSoon: []pmsync.ItemRef{{Title: "Go-live", Due: "2026-12-01"}, {Title: "Readiness review", Due: "2026-11-05"}},
	}
	if m, ok := NextMilestone(r); !ok || m.Title != "Readiness review" {
		t.Errorf("NextMilestone = %+v, %v; want the earliest dated open milestone", m, ok)
	}
	if _, ok := NextMilestone(pmsync.Rollup{Late: []pmsync.ItemRef{{Title: "Undated"}}}); ok {
		t.Errorf("a rollup naming only an undated milestone has a next milestone")
	}
	if got := dueOf(r); got != "2026-11-05T12:00:00.000Z" {
		t.Errorf("dueOf = %v", got)
	}
	if got := dueOf(pmsync.Rollup{}); got != nil {
		t.Errorf("dueOf without milestones = %v, want nil (clears the due date)", got)
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	r := pmsync.Rollup{ID: "pacs-viewer", Version: "9f8e7d6c5b4a"}
	for _, text := range []string{
		Marker(r),
		"Some summary\n\n" + Marker(r),
		"Some summary\n\n  " + Marker(r) + "  \n",
	} {
		p, v, ok := readMarker(text)
		if !ok || p != "pacs-viewer" || v != "9f8e7d6c5b4a" {
			t.Errorf("readMarker(%q) = %q %q %v", text, p, v, ok)
		}
	}
	if p, v, ok := readMarker("pmsync:program=pacs-viewer"); !ok || p != "pacs-viewer" || v != "" {
		t.Errorf("a bare program marker reads as %q %q %v", p, v, ok)
	}
	if _, _, ok := readMarker("Status notes without a marker"); ok {
		t.Errorf("found a marker where there is none")
	}
}

func TestSummaryBudgetForms(t *testing.T) {
	r := pmsync.Rollup{ID: "p", Version: "v", AsOf: "2026-11-26", Health: pmsync.Health{Status: pmsync.Green},
		Budget: pmsync.Budget{Actual: 1234.5, Currency: "EUR"}}
	if s := Summary(r); !strings.Contains(s, "Budget: 1,234.50 EUR spent, no planned budget") ||
		!strings.Contains(s, "**Health: Green** — no concerns") || !strings.Contains(s, "Late milestones: none") {
		t.Errorf("summary without a plan:\n%s", s)
	}
	r.Budget = pmsync.Budget{Planned: 10000, Actual: 2500, BurnPercent: ptr(25)}
	if s := Summary(r); !strings.Contains(s, "Budget: 25.0% burned (2,500.00 of 10,000.00)") {
		t.Errorf("summary without program dates:\n%s", s)
	}
}

// A rollup with reasons longer than a description holds still ends in its
// marker, within Trello's limit.
func TestSummaryFitsTrello(t *testing.T) {
	r := pmsync.Rollup{ID: "ehr-upgrade", Version: "v9", Health: pmsync.Health{Status: pmsync.Red,
		Reasons: []string{strings.Repeat("ü late milestone; ", 2000)}}}
	s := Summary(r)
	if len(s) > maxDesc || lastLine(s) != Marker(r) {
		t.Errorf("summary of %d bytes ends %q", len(s), lastLine(s))
	}
}
