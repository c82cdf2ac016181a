package trellosim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"
)

// The PMO template for Trello (DESIGN §2.1) that Generate follows.
var (
	// TemplateLists are the lists of a PMO board, left to right.
	TemplateLists = []string{"Backlog", "Doing", "Blocked", "Done", "Cancelled", "Milestones", "Risks"}
	// ScaleOptions are the options of the Likelihood and Impact fields.
	ScaleOptions = []string{"1", "2", "3", "4", "5"}
)

type staffer struct{ fullName, username string }

var genStaff = []staffer{
	{"Alicia Moreno", "aliciamoreno"},
	{"Ben Okafor", "benokafor"},
	{"Chloe Tanaka", "chloetanaka"},
	{"David Lindqvist", "davidlindqvist"},
	{"Esther Adeyemi", "estheradeyemi"},
	{"Farid Haddad", "faridhaddad"},
	{"Grace O'Connell", "graceoconnell"},
	{"Hiro Nakamura", "hironakamura"},
}

var genLabels = []struct{ name, color string }{
	{"Milestone", "purple"},
	{"Risk", "red"},
	{"Clinical", "green"},
	{"Interfaces", "sky"},
	{"Training", "yellow"},
	{"Security", "black"},
	{"Infrastructure", "blue"},
	{"Go-Live Critical", "orange"},
}

var genTasks = []struct{ name, stream string }{
	{"Configure MyChart proxy access", "Clinical"},
	{"Build adolescent confidentiality rules for proxy access", "Clinical"},
	{"Configure test result release delays", "Clinical"},
	{"Set up e-check-in questionnaires", "Clinical"},
	{"Build appointment self-scheduling for primary care", "Clinical"},
	{"Configure patient-entered medication reconciliation", "Clinical"},
	{"Map portal messaging pools to clinic in-baskets", "Clinical"},
	{"Enable video visit launch from the portal", "Clinical"},
	{"Build HL7 ADT feed for portal account activation", "Interfaces"},
	{"Interface the billing system for online bill pay", "Interfaces"},
	{"Connect the payment gateway in the TST environment", "Interfaces"},
	{"Validate lab result routing to the portal", "Interfaces"},
	{"Configure SMS notification vendor integration", "Interfaces"},
	{"Set up identity proofing service for self-enrollment", "Security"},
	{"Configure SSO and MFA for patient accounts", "Security"},
	{"Run penetration test of the patient portal", "Security"},
	{"Review audit logging of proxy access", "Security"},
	{"Provision portal web servers in both data centres", "Infrastructure"},
	{"Load test the portal with 5,000 concurrent sessions", "Infrastructure"},
	{"Configure CDN and TLS certificates for the portal domain", "Infrastructure"},
	{"Set up monitoring and alerting for portal uptime", "Infrastructure"},
	{"Train front-desk staff on portal enrollment", "Training"},
	{"Train nurses on portal message triage", "Training"},
	{"Publish patient quick-start guide in English and Spanish", "Training"},
	{"Record enrollment how-to video for the waiting-room screens", "Training"},
	{"Go-live command centre staffing", "Training"},
	{"Write help desk scripts for password resets", "Training"},
	{"Cutover rehearsal: activate pilot clinic accounts", "Infrastructure"},
}

var genAreas = []string{
	"Cardiology", "Oncology", "Pediatrics", "Orthopedics", "Women's Health",
	"Primary Care", "Neurology", "Dermatology", "Behavioral Health", "Urgent Care",
}

var genMilestones = []string{
	"Portal build complete",
	"Proxy access configured and tested",
	"Integrated testing sign-off",
	"Security and privacy review passed",
	"Patient communications launched",
	"Go-live readiness review",
	"Go-live: patient portal live",
	"Command centre stood down",
	"Hypercare complete",
	"Adoption target: 30% of patients enrolled",
}

var genRisks = []string{
	"Interface engine capacity during the go-live peak",
	"Proxy access rules misapplied to adolescent records",
	"Identity matching errors on patient self-enrollment",
	"Vendor upgrade slips past the go-live date",
	"Help desk overwhelmed by password resets",
	"Low enrollment among patients with limited English",
	"SSO outage blocks the clinician in-basket",
	"Test results released before clinician review",
	"Accessibility audit findings against WCAG 2.1 AA",
	"Mobile app store approval delays",
	"Key analysts on leave during cutover",
	"Billing statements show incorrect balances online",
}

var genComments = []string{
	"Validated in TST with the proxy-access test patients.",
	"Waiting on the vendor's fix for the enrollment e-mail template.",
	"Discussed at the go-live readiness huddle; owner confirmed the date.",
	"Build reviewed with the ambulatory informatics lead.",
	"Analysts pulled into the cutover rehearsal; picking this up next week.",
	"Help desk scripts updated for this change.",
	"Security review found no open issues.",
	"Escalated to the steering committee.",
}

// genEvent is one step of a generated board's history; they run in time
// order so that ids, which carry their creation time, sort like the
// history.
type genEvent struct {
	at  time.Time
	seq int
	run func(at time.Time)
}

// Generate builds a realistic PMO board for a hospital's patient-portal
// go-live with n cards and returns its id. It follows the PMO template:
// lists Backlog, Doing, Blocked, Done, Cancelled, Milestones and Risks;
// labels Milestone and Risk (and workstream labels); custom fields Planned
// Cost and Actual Cost (number), Likelihood and Impact (list 1–5) and Owner
// (text). About 8% of the cards are milestones (some late, one due soon,
// the passed ones mostly done with dueComplete), about 10% risks (some
// with likelihood × impact ≥ 15, some archived), the rest tasks with
// checklist progress, costs and dates around now; some done and cancelled
// cards are archived. The board's action history (createCard, list moves,
// completions, archiving, comments) leads up to now. The same seed and now
// give the same board on a fresh simulator. It holds staff names and work
// items only, no patient data.
func (s *Server) Generate(boardName string, n int, seed int64, now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now = now.UTC().Truncate(time.Millisecond)
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	start := now.AddDate(0, 0, -150)
	at := start
	tick := func() time.Time { at = at.Add(time.Minute); return at }

	b := s.boards[s.addBoardAt(boardName, at)]
	lists := map[string]string{}
	for _, name := range TemplateLists {
		lists[name] = s.addListAt(b.id, name, tick())
	}
	labels := map[string]string{}
	for _, l := range genLabels {
		labels[l.name] = s.addLabelAt(b.id, l.name, l.color, tick())
	}
	s.addFieldAt(b.id, "Planned Cost", "number", nil, tick())
	s.addFieldAt(b.id, "Actual Cost", "number", nil, tick())
	s.addFieldAt(b.id, "Likelihood", "list", ScaleOptions, tick())
	s.addFieldAt(b.id, "Impact", "list", ScaleOptions, tick())
	s.addFieldAt(b.id, "Owner", "text", nil, tick())
	var staff []string
	for _, p := range genStaff {
		staff = append(staff, s.addMemberAt(b.id, p.fullName, p.username, tick()))
	}
	b.lastActivity = at
	if n <= 0 {
		return b.id
	}

	g := &generator{s: s, b: b, rng: rng, now: now, lists: lists, labels: labels, staff: staff, ids: make([]string, n)}
	nMilestones := int(math.Round(float64(n) * 0.08))
	nRisks := int(math.Round(float64(n) * 0.10))
	if n >= 3 {
		nMilestones, nRisks = max(nMilestones, 1), max(nRisks, 1)
	}
	nMilestones = min(nMilestones, n)
	nRisks = min(nRisks, n-nMilestones)
	kinds := make([]string, n)
	for i := range kinds {
		switch {
		case i < nMilestones:
			kinds[i] = "milestone"
		case i < nMilestones+nRisks:
			kinds[i] = "risk"
		default:
			kinds[i] = "task"
		}
	}
	// Milestones keep their order (their due dates follow it); risks and
	// tasks are interleaved.
	rest := kinds[nMilestones:]
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	offsets, late := milestonePlan(nMilestones)
	m, r, t := 0, 0, 0
	for i, k := range kinds {
		switch k {
		case "milestone":
			g.milestone(i, m, offsets[m], late[m])
			m++
		case "risk":
			g.risk(i, r)
			r++
		default:
			g.task(i, t)
			t++
		}
	}
	sort.SliceStable(g.events, func(i, j int) bool {
		if !g.events[i].at.Equal(g.events[j].at) {
			return g.events[i].at.Before(g.events[j].at)
		}
		return g.events[i].seq < g.events[j].seq
	})
	for _, e := range g.events {
		e.run(e.at)
	}
	return b.id
}

type generator struct {
	s      *Server
	b      *board
	rng    *rand.Rand
	now    time.Time
	lists  map[string]string
	labels map[string]string
	staff  []string
	ids    []string // card id by index, set when its createCard runs
	events []genEvent
}

func (g *generator) at(t time.Time, run func(time.Time)) {
	g.events = append(g.events, genEvent{at: t.Truncate(time.Millisecond), seq: len(g.events), run: run})
}

// between is a random time in [a, b).
func (g *generator) between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return a.Add(time.Duration(g.rng.Int64N(int64(b.Sub(a)))))
}

// day is 17:00 UTC, offset days from now: Trello's due dates carry a time.
func (g *generator) day(offset int) *time.Time {
	d := time.Date(g.now.Year(), g.now.Month(), g.now.Day(), 17, 0, 0, 0, time.UTC).AddDate(0, 0, offset)
	return &d
}

func (g *generator) who() string { return g.staff[g.rng.IntN(len(g.staff))] }

func (g *generator) owner() string {
	return g.s.members[g.who()].fullName
}

func money(v float64) string {
	return strconv.FormatFloat(math.Round(v/50)*50, 'f', -1, 64)
}

func (g *generator) create(i int, c Card, created time.Time) {
	by := g.who()
	g.at(created, func(at time.Time) {
		c.DateLastActivity = at
		id, err := g.s.addCardAt(g.b.id, c, at, by)
		if err != nil {
			panic(fmt.Sprintf("trellosim: generate %q: %v", c.Name, err)) // the template is fixed: a bug here
		}
		g.ids[i] = id
	})
}

func (g *generator) change(i int, when time.Time, f func(*Card)) {
	by := g.who()
	g.at(when, func(at time.Time) {
		if err := g.s.updateCardAt(g.ids[i], f, at, by); err != nil {
			panic(fmt.Sprintf("trellosim: generate: update card %d: %v", i, err))
		}
	})
}

func (g *generator) comment(i int, from time.Time) {
	if g.rng.IntN(4) != 0 {
		return
	}
	for k := range 1 + g.rng.IntN(2) {
		text := genComments[g.rng.IntN(len(genComments))]
		by := g.who()
		when := g.between(from, g.now.Add(-time.Hour)).Add(time.Duration(k) * time.Minute)
		g.at(when, func(at time.Time) {
			if _, err := g.s.addCommentAt(g.ids[i], text, at, by); err != nil {
				panic(fmt.Sprintf("trellosim: generate: comment on card %d: %v", i, err))
			}
		})
	}
}

// milestonePlan spreads the due dates of total milestones from 100 days
// ago to 150 days ahead (days from now) and marks the latest passed one
// (and, with many, an earlier one) late; the other passed ones are done.
// The first one ahead is moved to within two weeks: due soon.
func milestonePlan(total int) (offsets []int, late []bool) {
	offsets, late = make([]int, total), make([]bool, total)
	if total == 1 {
		offsets[0] = 7
		return offsets, late
	}
	lastPast, firstAhead := -1, -1
	for k := range offsets {
		offsets[k] = -100 + k*250/(total-1)
		if offsets[k] < 0 {
			lastPast = k
		} else if firstAhead < 0 {
			firstAhead = k
		}
	}
	if lastPast >= 0 {
		late[lastPast] = true
		if lastPast >= 4 {
			late[lastPast-3] = true
		}
	}
	if firstAhead >= 0 {
		offsets[firstAhead] = min(offsets[firstAhead], 9)
	}
	return offsets, late
}

// milestone k: two in three sit in the Milestones list, the others on the
// working lists; all carry the Milestone label.
func (g *generator) milestone(i, k, offset int, late bool) {
	name := genMilestones[k%len(genMilestones)]
	if k >= len(genMilestones) {
		name += " — wave " + strconv.Itoa(k/len(genMilestones)+1)
	}
	due := g.day(offset)
	created := g.between(g.now.AddDate(0, 0, -148), g.now.AddDate(0, 0, -110))
	done := offset < 0 && !late
	inList := k%3 != 2
	c := Card{
		Name: name, Desc: "Milestone of the patient-portal go-live plan.",
		Labels: []string{g.labels["Milestone"]}, Members: []string{g.who()},
		Due: due, Custom: map[string]string{"Owner": g.owner()},
		IDList: g.lists["Milestones"],
	}
	if !inList {
		c.IDList = g.lists["Backlog"]
	}
	g.create(i, c, created)
	switch {
	case done:
		when := laterOf(due.Add(time.Duration(g.rng.IntN(72)-48)*time.Hour), created.Add(time.Hour))
		when = minTime(when, g.now.Add(-time.Hour))
		g.change(i, when, func(c *Card) {
			c.DueComplete = true
			if !inList {
				c.IDList = g.lists["Done"]
			}
		})
	case !inList:
		g.change(i, g.between(created.Add(time.Hour), g.now.AddDate(0, 0, -7)), func(c *Card) { c.IDList = g.lists["Doing"] })
	}
	g.comment(i, created)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// risk: most sit in the Risks list, a few on the board's working lists with
// the Risk label; about a third are red flags (likelihood × impact ≥ 15);
// some are closed as mitigated, some archived.
func (g *generator) risk(i, k int) {
	name := genRisks[k%len(genRisks)]
	if k >= len(genRisks) {
		name += " (" + genAreas[(k/len(genRisks)-1)%len(genAreas)] + ")"
	}
	var l, im int
	if k%3 == 0 {
		for l*im < 15 {
			l, im = 3+g.rng.IntN(3), 4+g.rng.IntN(2)
		}
	} else {
		l, im = 5, 5
		for l*im >= 15 {
			l, im = 1+g.rng.IntN(5), 1+g.rng.IntN(4)
		}
	}
	created := g.between(g.now.AddDate(0, 0, -140), g.now.AddDate(0, 0, -3))
	c := Card{
		Name: name, Desc: "Mitigation owner reviews this risk weekly at the PMO huddle.",
		Labels: []string{g.labels["Risk"]}, Members: []string{g.who()},
		Custom: map[string]string{"Likelihood": strconv.Itoa(l), "Impact": strconv.Itoa(im), "Owner": g.owner()},
		IDList: g.lists["Risks"],
	}
	if k%5 == 4 {
		c.IDList = g.lists["Doing"]
	}
	if g.rng.IntN(2) == 0 {
		c.Due = g.day(g.rng.IntN(60) - 10)
	}
	g.create(i, c, created)
	switch {
	case k%7 == 6: // retired: archived, which the template reads as cancelled
		g.change(i, g.between(created.Add(time.Hour), g.now.Add(-time.Hour)), func(c *Card) { c.Closed = true })
	case k%7 == 5 && k%3 != 0: // mitigated
		g.change(i, g.between(created.Add(time.Hour), g.now.Add(-time.Hour)), func(c *Card) { c.DueComplete = true })
	}
	g.comment(i, created)
}

// task: its final list is drawn (Backlog 25%, Doing 25%, Blocked 8%, Done
// 35%, Cancelled 7%); it starts in Backlog and moves there through Doing.
func (g *generator) task(i, k int) {
	tpl := genTasks[k%len(genTasks)]
	name := tpl.name
	if round := k / len(genTasks); round > 0 {
		name += " — " + genAreas[(round-1)%len(genAreas)]
		if round > len(genAreas) {
			name += " wave " + strconv.Itoa((round-1)/len(genAreas)+1)
		}
	}
	final := "Backlog"
	switch p := g.rng.IntN(100); {
	case p < 25:
	case p < 50:
		final = "Doing"
	case p < 58:
		final = "Blocked"
	case p < 93:
		final = "Done"
	default:
		final = "Cancelled"
	}
	created := g.between(g.now.AddDate(0, 0, -140), g.now.AddDate(0, 0, -2))
	c := Card{
		Name: name, IDList: g.lists["Backlog"],
		Labels:  []string{g.labels[tpl.stream]},
		Members: []string{g.who()},
		Custom:  map[string]string{},
	}
	if g.rng.IntN(10) == 0 {
		c.Labels = append(c.Labels, g.labels["Go-Live Critical"])
	}
	if g.rng.IntN(3) == 0 {
		if m := g.who(); m != c.Members[0] {
			c.Members = append(c.Members, m)
		}
	}
	if g.rng.IntN(2) == 0 {
		c.Desc = "Workstream: " + tpl.stream + ". Done when the build is signed off in TST and documented in the runbook."
	}
	if g.rng.IntN(10) < 7 {
		c.CheckItems = 2 + g.rng.IntN(5)
	}
	planned := 0.0
	if g.rng.IntN(10) < 6 {
		planned = 500 + g.rng.Float64()*39500
		c.Custom["Planned Cost"] = money(planned)
	}
	if g.rng.IntN(10) < 7 {
		c.Custom["Owner"] = g.owner()
	}
	// Due dates: finished work was due in the past, open work around now.
	var due *time.Time
	if final == "Done" {
		due = g.day(-g.rng.IntN(90) - 1)
	} else if g.rng.IntN(10) < 8 {
		due = g.day(g.rng.IntN(80) - 20)
	}
	if due != nil {
		c.Due = due
		if g.rng.IntN(2) == 0 {
			st := due.AddDate(0, 0, -7-g.rng.IntN(21))
			c.Start = &st
		}
	}
	g.create(i, c, created)
	// Values drawn now, not when the events run, keep the draw order plain.
	doingCost, doneCost := money(planned*(0.1+0.3*g.rng.Float64())), money(planned*(0.8+0.5*g.rng.Float64()))
	last := created
	if final == "Cancelled" {
		last = g.between(created.Add(time.Hour), g.now.Add(-time.Hour))
		g.change(i, last, func(c *Card) { c.IDList = g.lists["Cancelled"] })
	} else if final != "Backlog" {
		last = g.between(created.Add(time.Hour), g.now.Add(-2*time.Hour))
		g.change(i, last, func(c *Card) {
			c.IDList = g.lists["Doing"]
			c.CheckItemsChecked = c.CheckItems / 3
			if planned > 0 {
				c.Custom["Actual Cost"] = doingCost
			}
		})
		if final != "Doing" {
			last = g.between(last.Add(time.Hour), g.now.Add(-time.Hour))
			g.change(i, last, func(c *Card) {
				c.IDList = g.lists[final]
				if final == "Done" {
					c.DueComplete = c.Due != nil
					c.CheckItemsChecked = c.CheckItems
					if planned > 0 {
						c.Custom["Actual Cost"] = doneCost
					}
				} else {
					c.CheckItemsChecked = (2 * c.CheckItems) / 3
				}
			})
		}
	}
	archive := final == "Done" && g.now.Sub(last) > 30*24*time.Hour && g.rng.IntN(100) < 40 ||
		final == "Cancelled" && g.rng.IntN(2) == 0
	if archive {
		g.change(i, g.between(last.Add(time.Hour), g.now.Add(-time.Minute)), func(c *Card) { c.Closed = true })
	}
	g.comment(i, created)
}
