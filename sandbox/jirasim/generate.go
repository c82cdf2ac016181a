package jirasim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Generate returns n issues of a hospital IT program (an EHR upgrade with
// HL7 interfaces, Epic build, PACS, telehealth, training and go-live work)
// in project, dated relative to now. The same seed gives the same issues.
// About 8% are milestones (due from 60 days ago to 180 days ahead, some
// done, some late), 10% risks (Likelihood and Impact "1".."5", some red
// flags), the rest tasks, stories, bugs and sub-tasks spread over To Do, In
// Progress, Blocked and Done, a few resolved as Won't Do or Cancelled. Keys
// are set (PROJECT-1 …) so that parents can refer to them; IDs are left for
// Add. Every Updated time is before now. Nothing in it describes a patient.
func Generate(project string, n int, seed int64, now time.Time) []Issue {
	g := &generator{
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		now:   now,
		today: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location()),
	}
	if n <= 0 {
		return nil
	}
	kinds := make([]byte, n)
	milestones := max(1, n*8/100)
	risks := n * 10 / 100
	for i := range kinds {
		switch {
		case i < milestones:
			kinds[i] = 'M'
		case i < milestones+risks:
			kinds[i] = 'R'
		default:
			kinds[i] = 'T'
		}
	}
	g.rng.Shuffle(n, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

	// Issues are created over the last ~300 days in key order, as a
	// project's backlog grows.
	const spanDays = 300
	out := make([]Issue, n)
	var milestoneKeys, taskKeys []string
	for i := range out {
		is := &out[i]
		is.Project = project
		is.Key = project + "-" + strconv.Itoa(i+1)
		createdAgo := time.Duration(float64(spanDays*24*time.Hour) * (1 - float64(i)/float64(n)))
		is.Created = now.Add(-createdAgo - time.Duration(g.rng.IntN(3600))*time.Second).Truncate(time.Millisecond)
		// Updated lies between Created and a minute ago.
		window := now.Add(-time.Minute).Sub(is.Created)
		if window <= 0 {
			is.Created = now.Add(-2 * time.Minute).Truncate(time.Millisecond)
			window = time.Minute
		}
		is.Updated = is.Created.Add(time.Duration(g.rng.Int64N(int64(window)))).Truncate(time.Millisecond)
		is.Assignee = g.assignee()
		is.Priority = g.priority()
		is.Labels = g.labels()
		switch kinds[i] {
		case 'M':
			g.milestone(is)
			milestoneKeys = append(milestoneKeys, is.Key)
		case 'R':
			g.risk(is)
		default:
			g.task(is)
			switch {
			case is.Type == "Sub-task" && len(taskKeys) > 0:
				is.Parent = taskKeys[g.rng.IntN(len(taskKeys))]
			case is.Type == "Sub-task":
				is.Type = "Task"
				fallthrough
			default:
				taskKeys = append(taskKeys, is.Key)
			}
		}
	}
	// Tasks count toward milestones through their parent, as under an epic.
	if len(milestoneKeys) > 0 {
		for i := range out {
			is := &out[i]
			if kinds[i] == 'T' && is.Parent == "" && g.rng.Float64() < 0.6 {
				is.Parent = milestoneKeys[g.rng.IntN(len(milestoneKeys))]
			}
		}
	}
	return out
}

type generator struct {
	rng   *rand.Rand
	now   time.Time
	today time.Time
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// between returns an integer in [lo, hi].
func (g *generator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

func (g *generator) date(offsetDays int) string {
	return g.today.AddDate(0, 0, offsetDays).Format(time.DateOnly)
}

func (g *generator) assignee() string {
	if g.chance(0.12) {
		return ""
	}
	return g.pick([]string{
		"Priya Raman", "Marcus Lee", "Elena Petrova", "David Okafor",
		"Sofia Alvarez", "Tom Becker", "Aisha Khan", "Liam O'Connor",
	})
}

func (g *generator) priority() string {
	switch x := g.rng.Float64(); {
	case x < 0.05:
		return "Highest"
	case x < 0.25:
		return "High"
	case x < 0.75:
		return "Medium"
	case x < 0.95:
		return "Low"
	}
	return "Lowest"
}

func (g *generator) labels() []string {
	all := []string{
		"ehr-upgrade", "hl7", "epic-build", "pacs", "telehealth", "training",
		"go-live", "infrastructure", "security", "interfaces", "wave-1", "wave-2",
	}
	k := g.rng.IntN(3)
	if k == 0 {
		return nil
	}
	out := make([]string, 0, k)
	for _, i := range g.rng.Perm(len(all))[:k] {
		out = append(out, all[i])
	}
	return out
}

func (g *generator) area() string {
	return g.pick([]string{
		"Cardiology", "Emergency Department", "Oncology", "Radiology", "Pharmacy",
		"Laboratory", "Ambulatory clinics", "Inpatient nursing", "Perioperative services",
		"Revenue cycle", "Health information management", "Pediatrics",
		"Behavioral health", "Women's health",
	})
}

func (g *generator) setDone(is *Issue, resolution string) {
	is.Status, is.StatusCategory, is.Resolution = "Done", "done", resolution
}

func (g *generator) milestone(is *Issue) {
	is.Type = "Milestone"
	off := g.between(-60, 180)
	is.Due = g.date(off)
	if g.chance(0.5) {
		is.Start = g.date(off - g.between(30, 90))
	}
	is.Summary = fmt.Sprintf(g.pick([]string{
		"Go-live: %s",
		"Integrated testing complete: %s",
		"Training complete: %s",
		"Cutover rehearsal: %s",
		"Build freeze: %s",
		"Go/no-go decision: %s",
	}), g.area())
	is.Description = "Milestone gate for the EHR upgrade program. Exit criteria are tracked in the readiness checklist."
	if g.chance(0.6) {
		is.Priority = "High"
	}
	switch {
	case off < 0 && g.chance(0.75):
		g.setDone(is, "Done")
	case off < 0:
		// Late: past due and still open.
		is.Status, is.StatusCategory = g.pick([]string{"In Progress", "To Do"}), ""
	case g.chance(0.1):
		g.setDone(is, "Done")
	case g.chance(0.45):
		is.Status = "In Progress"
	default:
		is.Status = "To Do"
	}
	g.fixCategory(is)
}

func (g *generator) risk(is *Issue) {
	is.Type = "Risk"
	is.Summary = fmt.Sprintf(g.pick([]string{
		"Interface vendor resourcing may delay HL7 testing for %s",
		"Clinician training attendance below target in %s",
		"Legacy DICOM archive migration may exceed the downtime window for %s",
		"Epic build analysts shared with another project affect %s",
		"Network bandwidth may not carry telehealth video in %s",
		"Third-party lab interface certification delayed for %s",
		"Super-user turnover in %s",
		"Workstation hardware delivery late for %s",
		"Consulting hours trending over budget for %s",
		"Go-live date overlaps an accreditation survey in %s",
	}), g.area())
	if g.chance(0.25) {
		hi := [][2]int{{3, 5}, {4, 4}, {4, 5}, {5, 3}, {5, 4}, {5, 5}}[g.rng.IntN(6)]
		is.Likelihood, is.Impact = strconv.Itoa(hi[0]), strconv.Itoa(hi[1])
	} else {
		is.Likelihood, is.Impact = strconv.Itoa(g.between(1, 4)), strconv.Itoa(g.between(1, 3))
	}
	if g.chance(0.4) {
		is.Due = g.date(g.between(-30, 120))
	}
	switch x := g.rng.Float64(); {
	case x < 0.55:
		is.Status = "To Do"
	case x < 0.80:
		is.Status = "In Progress"
	case x < 0.95:
		g.setDone(is, "Done")
	default:
		g.setDone(is, "Cancelled")
	}
	if g.chance(0.5) {
		is.Description = "Mitigation: escalate at the weekly PMO review and track actions in linked tasks."
	}
	g.fixCategory(is)
}

func (g *generator) task(is *Issue) {
	area := g.area()
	switch x := g.rng.Float64(); {
	case x < 0.55:
		is.Type = "Task"
		is.Summary = fmt.Sprintf(g.pick([]string{
			"Build Epic order sets for %s",
			"Validate HL7 ADT feed for %s",
			"Configure HL7 ORU results interface for %s",
			"Map charge codes for %s",
			"Test PACS worklist integration for %s",
			"Migrate DICOM archive studies for %s",
			"Set up telehealth visit types for %s",
			"Deliver end-user training for %s",
			"Schedule super-user sessions for %s",
			"Update downtime procedures for %s",
			"Install workstations and label printers in %s",
			"Review security roles for %s",
			"Convert legacy note templates for %s",
			"Run integrated testing scenarios for %s",
			"Plan go-live command center coverage for %s",
			"Configure e-prescribing for %s",
			"Validate interface engine routes for %s",
		}), area)
	case x < 0.75:
		is.Type = "Story"
		is.Summary = fmt.Sprintf(g.pick([]string{
			"As a nurse in %s I can chart in the new flowsheets",
			"As a radiologist in %s I can open prior studies from the EHR",
			"As a scheduler in %s I can book telehealth visits",
			"As a pharmacist in %s I can verify orders in one queue",
			"As a manager in %s I can see training completion by team",
		}), area)
	case x < 0.90:
		is.Type = "Bug"
		is.Summary = fmt.Sprintf(g.pick([]string{
			"HL7 ORU messages rejected by the interface engine for %s",
			"Order set not shown in the %s build",
			"PACS viewer fails to launch from the EHR in %s",
			"Telehealth session drops on clinic Wi-Fi in %s",
			"Label printer mapped to the wrong tray in %s",
			"Duplicate charges from the %s interface",
		}), area)
	default:
		is.Type = "Sub-task"
		is.Summary = fmt.Sprintf(g.pick([]string{
			"Sign-off from %s leadership",
			"Write test script for %s",
			"Collect workflow feedback from %s",
		}), area)
	}
	if g.chance(0.7) {
		is.Description = "Scope agreed with the " + area + " workgroup.\nAcceptance: validated in the test environment and signed off."
	}
	switch x := g.rng.Float64(); {
	case x < 0.28:
		is.Status = "To Do"
	case x < 0.58:
		is.Status = "In Progress"
	case x < 0.66:
		is.Status = "Blocked"
	default:
		res := "Done"
		if g.chance(0.08) {
			res = g.pick([]string{"Won't Do", "Cancelled"})
		}
		g.setDone(is, res)
	}
	g.fixCategory(is)
	if g.chance(0.85) {
		off := g.between(-30, 200)
		if is.StatusCategory == "done" {
			off = g.between(-120, 30)
		}
		is.Due = g.date(off)
		if g.chance(0.65) {
			is.Start = g.date(off - g.between(3, 40))
		}
	}
	if g.chance(0.45) {
		planned := math.Round(math.Exp(g.rng.Float64()*math.Log(120))*500/50) * 50
		is.PlannedCost = &planned
		var f float64
		switch is.Status {
		case "Done":
			f = 0.7 + 0.65*g.rng.Float64()
		case "In Progress", "Blocked":
			f = 0.1 + 0.7*g.rng.Float64()
		}
		if f > 0 {
			actual := math.Round(planned*f*100) / 100
			is.ActualCost = &actual
		}
	}
}

// fixCategory sets the status category of the statuses Generate uses.
func (g *generator) fixCategory(is *Issue) {
	switch is.Status {
	case "To Do":
		is.StatusCategory = "new"
	case "In Progress", "Blocked":
		is.StatusCategory = "indeterminate"
	case "Done":
		is.StatusCategory = "done"
	}
}
