package asanasim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// The PMO template's field and section names (the connector's default
// mapping reads these).
const (
	FieldStatus      = "Status"
	FieldPlannedCost = "Planned Cost"
	FieldActualCost  = "Actual Cost"
	FieldLikelihood  = "Likelihood"
	FieldImpact      = "Impact"
	SectionRisks     = "Risks"
)

// The Status field's options.
const (
	StatusNotStarted = "Not Started"
	StatusInProgress = "In Progress"
	StatusBlocked    = "Blocked"
	StatusDone       = "Done"
	StatusCancelled  = "Cancelled"
)

// PMOFields are the custom fields of a project that follows the PMO
// template, plus a few more that exercise every value shape.
func PMOFields() []CustomField {
	return []CustomField{
		{Name: FieldStatus, Type: TypeEnum, Options: []string{StatusNotStarted, StatusInProgress, StatusBlocked, StatusDone, StatusCancelled}},
		{Name: FieldPlannedCost, Type: TypeNumber, Precision: 2},
		{Name: FieldActualCost, Type: TypeNumber, Precision: 2},
		{Name: FieldLikelihood, Type: TypeNumber},
		{Name: FieldImpact, Type: TypeNumber},
		{Name: "Sites", Type: TypeMultiEnum, Options: words().sites},
		{Name: "Clinical Lead", Type: TypePeople},
		{Name: "Target Date", Type: TypeDate},
		{Name: "Vendor Ref", Type: TypeText},
	}
}

// vocabulary is the plan's wording: sites, sections, staff (fictional) and
// the names of milestones, tasks and risks.
type vocabulary struct {
	sites, workSections, people, milestones, tasks, risks []string
}

func words() vocabulary {
	return vocabulary{
		sites:        []string{"Main Campus", "North Clinic", "Pediatrics", "Behavioral Health"},
		workSections: []string{"Planning & Governance", "Clinical Workflows", "Technology & Integration", "Training & Adoption", "Go-Live & Hypercare"},
		people:       []string{"Dana Whitfield", "Marcus Oyelaran", "Priya Raman", "Tom Keller", "Alicia Moreno", "Ben Okafor", "Grace Liu", "Sam Patel"},
		milestones: []string{
			"Vendor contract and BAA signed",
			"Technical design approved",
			"EHR video visit integration complete",
			"Pilot go-live: Family Medicine",
			"Clinician training complete",
			"Patient portal self-scheduling live",
			"Phase 2 go-live: specialty clinics",
			"Hypercare exit",
			"Program closeout",
		},
		tasks: []string{
			"Configure video visit appointment types in EHR",
			"Build e-check-in questionnaire",
			"Validate clinician single sign-on",
			"Test interpreter three-way video",
			"Draft telehealth consent language for legal review",
			"Set up virtual waiting-room messaging",
			"Load test video platform at peak clinic volume",
			"Create at-the-elbow support roster",
			"Update call-center scheduling scripts",
			"Configure peripheral device loaner workflow",
			"Map billing codes and modifiers for virtual visits",
			"Document downtime procedure for video outages",
			"Run go-live rehearsal",
			"Publish front-desk tip sheets",
			"Review accessibility of patient join flow",
			"Configure network QoS for exam rooms",
			"Set up telehealth visit quality dashboard",
			"Validate after-visit summary delivery",
		},
		risks: []string{
			"Video vendor misses BAA signature date",
			"Patient join flow fails accessibility review",
			"Insufficient bandwidth at rural clinic sites",
			"Interface engine upgrade slips",
			"Clinician adoption below target",
			"Payer reimbursement policy for virtual visits changes",
			"Interpreter service not integrated for video",
			"Cross-state licensure approvals delayed",
			"Peripheral devices back-ordered",
			"After-hours help desk understaffed",
		},
	}
}

// Generate creates a project named projectName holding a hospital
// telehealth-launch plan of n tasks, reproducible from seed, with dates
// around now, and returns the project gid. About 8% of the tasks are
// milestones, about 10% are risks in the Risks section (with Likelihood and
// Impact), the rest are work tasks with Status, costs, assignees and dates.
// Nothing in it describes a patient. Every task was last modified at least
// an hour before now, so that changes made "now" stand apart.
func (s *Server) Generate(projectName string, n int, seed int64, now time.Time) string {
	r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	w := words()
	sites, workSections, people := w.sites, w.workSections, w.people
	pgid := s.AddProject(projectName, PMOFields()...)
	start := now.AddDate(0, 0, -150)
	span := 300 // days: the program runs from 150 days ago to 150 days ahead
	var workGIDs []string
	for i := range n {
		t := Task{Assignee: people[r.IntN(len(people))], Custom: map[string]any{}}
		due := start.AddDate(0, 0, r.IntN(span))
		past := due.Before(now)
		roll := r.Float64()
		switch {
		case i%12 == 5: // ~8%: milestones
			t.Subtype = "milestone"
			t.Name = cycleName(w.milestones, i/12)
			t.Section = workSections[r.IntN(len(workSections))]
			t.Custom["Target Date"] = due.Format(time.DateOnly)
			// Most past milestones are met; a few are late.
			t.Completed = past && roll < 0.8
			t.Custom[FieldStatus] = pick(t.Completed, StatusDone, StatusInProgress)
		case i%10 == 4: // 10%: risks (i%12 == 5 is odd, so never both)
			t.Name = cycleName(w.risks, i/10)
			t.Section = SectionRisks
			t.Custom[FieldLikelihood] = float64(1 + r.IntN(5))
			t.Custom[FieldImpact] = float64(1 + r.IntN(5))
			t.Completed = roll < 0.2 // mitigated
			t.Custom[FieldStatus] = pick(t.Completed, StatusDone, pick(roll < 0.6, StatusInProgress, StatusNotStarted))
			t.Custom["Vendor Ref"] = fmt.Sprintf("RISK-%03d", i+1)
		default:
			t.Name = fmt.Sprintf("%s (%s)", cycleName(w.tasks, i/len(sites)), sites[i%len(sites)])
			t.Section = workSections[r.IntN(len(workSections))]
			t.Custom["Sites"] = []string{sites[i%len(sites)]}
			t.StartOn = due.AddDate(0, 0, -7-r.IntN(21)).Format(time.DateOnly)
			status := StatusNotStarted
			switch {
			case roll < 0.03:
				status = StatusCancelled
				t.Completed = r.IntN(2) == 0 // teams tick cancelled work complete
			case past && roll < 0.88, !past && roll < 0.12:
				status = StatusDone
				t.Completed = true
			case roll < 0.93:
				status = StatusBlocked
			case past || roll < 0.45:
				status = StatusInProgress
			}
			t.Custom[FieldStatus] = status
			if r.Float64() < 0.6 {
				planned := math.Round((1000+r.Float64()*39000)/50) * 50
				t.Custom[FieldPlannedCost] = planned
				switch status {
				case StatusDone:
					t.Custom[FieldActualCost] = math.Round(planned*(0.8+r.Float64()*0.5)*100) / 100
				case StatusInProgress, StatusBlocked:
					t.Custom[FieldActualCost] = math.Round(planned*(0.2+r.Float64()*0.5)*100) / 100
				}
			}
			if r.Float64() < 0.2 {
				t.Custom["Clinical Lead"] = []string{people[r.IntN(len(people))]}
			}
			if len(workGIDs) > 0 && r.Float64() < 0.05 {
				t.Parent = workGIDs[r.IntN(len(workGIDs))]
			}
		}
		t.DueOn = due.Format(time.DateOnly)
		t.CreatedAt = start.Add(-time.Duration(r.IntN(30*24)) * time.Hour)
		t.ModifiedAt = now.Add(-time.Hour - time.Duration(r.IntN(60*24*60))*time.Minute)
		if t.ModifiedAt.Before(t.CreatedAt) {
			t.ModifiedAt = t.CreatedAt
		}
		if t.Completed {
			t.CompletedAt = t.ModifiedAt
		}
		gid, err := s.AddTask(pgid, t)
		if err != nil {
			// The generator only uses the fields it just defined.
			panic(err)
		}
		if t.Subtype == "" && t.Section != SectionRisks {
			workGIDs = append(workGIDs, gid)
		}
	}
	return pgid
}

func cycleName(names []string, i int) string {
	n := names[i%len(names)]
	if wave := i / len(names); wave > 0 {
		return fmt.Sprintf("%s, wave %d", n, wave+1)
	}
	return n
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
