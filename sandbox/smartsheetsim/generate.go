package smartsheetsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// PlanColumns are the columns of the PMO project-plan template that pmsync's
// default Smartsheet mapping reads, plus a few a real plan carries.
func PlanColumns() []ColumnSpec {
	scale := []string{"1", "2", "3", "4", "5"}
	return []ColumnSpec{
		{Title: "Task Name", Primary: true},
		{Title: "Type", Type: Picklist, Options: []string{"Task", "Milestone", "Risk"}, Validation: true},
		{Title: "Status", Type: Picklist, Options: []string{"Not Started", "In Progress", "Blocked", "Complete", "Cancelled"}, Validation: true},
		{Title: "Workstream", Type: Picklist, Options: []string{"Interfaces", "Imaging", "Clinical", "Infrastructure", "Security", "Training"}},
		{Title: "Start Date", Type: Date},
		{Title: "End Date", Type: Date},
		{Title: "Duration", Type: Duration},
		{Title: "Assigned To", Type: ContactList},
		{Title: "% Complete", Format: FormatPercent},
		{Title: "Planned Cost", Format: FormatCurrency},
		{Title: "Actual Cost", Format: FormatCurrency},
		{Title: "Likelihood", Type: Picklist, Options: scale},
		{Title: "Impact", Type: Picklist, Options: scale},
		{Title: "At Risk", Type: Checkbox},
	}
}

// RollupColumns are the columns of an executive rollup sheet that pmsync
// pushes to; health lists the Health picklist options (Green/Yellow/Red
// when empty). With version set, the sheet also has a "Rollup Version"
// column.
func RollupColumns(version bool, health ...string) []ColumnSpec {
	if len(health) == 0 {
		health = []string{"Green", "Yellow", "Red"}
	}
	cols := []ColumnSpec{
		{Title: "Program", Primary: true},
		{Title: "Health", Type: Picklist, Options: health, Validation: true},
		{Title: "Percent Complete", Format: FormatPercent},
		{Title: "Milestones Late"},
		{Title: "Red Flag Risks"},
		{Title: "Budget Burn %", Format: FormatPercent},
		{Title: "Updated", Type: Date},
	}
	if version {
		cols = append(cols, ColumnSpec{Title: "Rollup Version"})
	}
	return cols
}

// Generate creates a realistic project plan and risk register for a
// hospital's PACS/DICOM viewer integration with n rows and returns the sheet
// id. About a tenth of the rows are milestones, each with its tasks as child
// rows, and a tenth are risks at the bottom. Dates, statuses, % complete,
// costs and likelihood/impact are consistent with now; the same seed gives
// the same sheet. It holds staff names and work items only, no patient
// data.
func (s *Server) Generate(name string, n int, seed int64, now time.Time) int64 {
	id, _ := s.CreateSheet(name, PlanColumns()) // cannot fail: the columns are fixed
	if n <= 0 {
		return id
	}
	staff := []Contact{
		{"Priya Raman", "priya.raman@hospital.example"},
		{"Tom Becker", "tom.becker@hospital.example"},
		{"Aisha Okafor", "aisha.okafor@hospital.example"},
		{"Luis Ortega", "luis.ortega@hospital.example"},
		{"Mei Chen", "mei.chen@hospital.example"},
		{"Daniel Weiss", "daniel.weiss@hospital.example"},
		{"Grace Mensah", "grace.mensah@hospital.example"},
		{"Sofia Lindqvist", "sofia.lindqvist@hospital.example"},
		{"Omar Haddad", "omar.haddad@hospital.example"},
		{"Hannah Brooks", "hannah.brooks@hospital.example"},
		{"Kenji Sato", "kenji.sato@hospital.example"},
		{"Rachel Goldberg", "rachel.goldberg@hospital.example"},
	}
	milestoneNames := []string{
		"Vendor contract and SOW signed",
		"Integration design approved",
		"Test environment ready",
		"HL7 and DICOM interfaces validated",
		"Viewer launch from EHR working in test",
		"Radiologist UAT sign-off",
		"Downtime procedures approved",
		"Go-live",
		"Post go-live stabilization complete",
		"Legacy PACS viewer decommissioned",
	}
	taskTemplates := []struct{ name, stream string }{
		{"Map HL7 ORM order messages to the viewer worklist", "Interfaces"},
		{"Validate HL7 ORU result routing", "Interfaces"},
		{"Configure ADT feed for viewer context", "Interfaces"},
		{"Build interface engine channel for viewer launch", "Interfaces"},
		{"Configure DICOM C-FIND/C-MOVE to the VNA", "Imaging"},
		{"Set up modality worklist for CT and MR", "Imaging"},
		{"Tune hanging protocols for chest X-ray", "Imaging"},
		{"Validate prior-study retrieval from legacy PACS", "Imaging"},
		{"Verify measurement and annotation tools", "Imaging"},
		{"Radiologist UAT: neuro reading workflow", "Clinical"},
		{"ED physician viewer launch from the EHR", "Clinical"},
		{"Clinical safety review of image display", "Clinical"},
		{"Define downtime reading procedure", "Clinical"},
		{"Provision viewer servers in both data centers", "Infrastructure"},
		{"Network QoS for image streaming to outpatient clinics", "Infrastructure"},
		{"Load test the viewer with 500 concurrent sessions", "Infrastructure"},
		{"Configure backup and DR for the image cache", "Infrastructure"},
		{"SSO for EHR context launch", "Security"},
		{"Penetration test of the zero-footprint viewer", "Security"},
		{"Audit logging of image access", "Security"},
		{"Train radiology super-users", "Training"},
		{"Publish quick-reference guide for referring physicians", "Training"},
		{"Schedule go-live floor support", "Training"},
	}
	riskNames := []string{
		"Viewer vendor API change delays EHR launch integration",
		"Legacy archive migration slower than planned",
		"Radiologists unavailable for UAT during flu season",
		"Outpatient site bandwidth too low for image streaming",
		"Security review finds high-severity issues in the viewer",
		"Interface engine capacity at peak order volume",
		"Key PACS administrator leaves mid-project",
		"Modality DICOM conformance gaps",
		"Go-live overlaps the EHR upgrade change freeze",
		"Storage expansion costs exceed budget",
	}

	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	now = now.UTC()
	today := now.Truncate(24 * time.Hour)
	start := today.AddDate(0, 0, -120)
	const span = 365

	risks, milestones := n/10, max(1, n/10)
	if n < 3 {
		risks = 0
	}
	if n == 1 {
		milestones = 1
	}
	tasks := n - risks - milestones

	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.sheets[id]
	col := func(title string) int64 { return sh.column(title).id }
	var (
		cName, cType, cStatus, cStream = col("Task Name"), col("Type"), col("Status"), col("Workstream")
		cStart, cEnd, cDur, cWho       = col("Start Date"), col("End Date"), col("Duration"), col("Assigned To")
		cPct, cPlan, cActual           = col("% Complete"), col("Planned Cost"), col("Actual Cost")
		cLike, cImpact, cAtRisk        = col("Likelihood"), col("Impact"), col("At Risk")
	)
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	modified := func() time.Time {
		return now.Add(-time.Duration(rng.Int64N(30*24*3600)) * time.Second).Truncate(time.Second)
	}
	created := start.Add(-30 * 24 * time.Hour)
	newRow := func(parent int64) *row {
		r := &row{id: s.newID(), parentID: parent, createdAt: created, modifiedAt: modified(), cells: map[int64]cell{}}
		sh.rows = append(sh.rows, r)
		return r
	}
	pick := func(weights ...int) int {
		total := 0
		for _, w := range weights {
			total += w
		}
		x := rng.IntN(total)
		for i, w := range weights {
			if x < w {
				return i
			}
			x -= w
		}
		return len(weights) - 1
	}
	statuses := []string{"Not Started", "In Progress", "Blocked", "Complete", "Cancelled"}
	uses := map[string]int{}
	unique := func(base string) string {
		uses[base]++
		if k := uses[base]; k > 1 {
			return base + " #" + strconv.Itoa(k)
		}
		return base
	}

	taskIdx := 0
	for m := range milestones {
		from := start.AddDate(0, 0, m*span/milestones)
		due := start.AddDate(0, 0, (m+1)*span/milestones)
		ms := newRow(0)
		ms.cells[cName] = unique(milestoneNames[m%len(milestoneNames)])
		ms.cells[cType] = "Milestone"
		ms.cells[cStart], ms.cells[cEnd] = day(due), day(due)
		ms.cells[cDur] = "0"
		ms.cells[cWho] = staff[m%len(staff)]

		count := tasks / milestones
		if m < tasks%milestones {
			count++
		}
		done, live := 0, 0
		for range count {
			t := taskTemplates[taskIdx%len(taskTemplates)]
			taskIdx++
			length := 3 + rng.IntN(max(4, span/milestones))
			tStart := from.AddDate(0, 0, rng.IntN(max(1, span/milestones)))
			tEnd := tStart.AddDate(0, 0, length)
			if tEnd.After(due) {
				tEnd = due
			}
			if tStart.After(tEnd) {
				tStart = tEnd
			}
			var st string
			switch {
			case tEnd.Before(today):
				st = statuses[[]int{3, 1, 2, 4}[pick(85, 7, 5, 3)]]
			case !tStart.After(today):
				st = statuses[[]int{1, 0, 2, 3}[pick(70, 15, 10, 5)]]
			default:
				st = statuses[[]int{0, 4}[pick(97, 3)]]
			}
			pct := 0.0
			switch st {
			case "Complete":
				pct = 1
			case "In Progress", "Blocked":
				pct = float64(2+rng.IntN(17)) * 0.05
			}
			planned := float64(500 + 250*rng.IntN(99))
			actual := math.Round(planned*pct*(0.85+0.4*rng.Float64())/10) * 10

			r := newRow(ms.id)
			r.cells[cName] = unique(t.name)
			r.cells[cType] = "Task"
			r.cells[cStatus] = st
			r.cells[cStream] = t.stream
			r.cells[cStart], r.cells[cEnd] = day(tStart), day(tEnd)
			r.cells[cDur] = strconv.Itoa(int(tEnd.Sub(tStart).Hours()/24)+1) + "d"
			r.cells[cWho] = staff[rng.IntN(len(staff))]
			r.cells[cPct] = math.Round(pct*100) / 100
			r.cells[cPlan] = planned
			if actual > 0 {
				r.cells[cActual] = actual
			}
			if st == "Blocked" || (st != "Complete" && st != "Cancelled" && tEnd.Before(today)) {
				r.cells[cAtRisk] = true
			}
			if st != "Cancelled" {
				live++
				if st == "Complete" {
					done++
				}
			}
		}
		msDone := due.Before(today) && (live == 0 || done == live || rng.IntN(5) > 0)
		switch {
		case msDone:
			ms.cells[cStatus] = "Complete"
		case !from.After(today):
			ms.cells[cStatus] = "In Progress"
		default:
			ms.cells[cStatus] = "Not Started"
		}
		pct := 0.0
		if live > 0 {
			pct = math.Round(100*float64(done)/float64(live)) / 100
		}
		if msDone {
			pct = 1
		}
		ms.cells[cPct] = pct
	}
	for k := range risks {
		r := newRow(0)
		r.cells[cName] = unique(riskNames[k%len(riskNames)])
		r.cells[cType] = "Risk"
		r.cells[cStatus] = statuses[[]int{0, 1, 3, 4}[pick(45, 30, 20, 5)]]
		identified := start.AddDate(0, 0, rng.IntN(150))
		r.cells[cStart], r.cells[cEnd] = day(identified), day(identified.AddDate(0, 0, 30+rng.IntN(90)))
		r.cells[cWho] = staff[rng.IntN(len(staff))]
		like, impact := 1+rng.IntN(3), 1+rng.IntN(4)
		if rng.IntN(100) < 15 {
			like, impact = 4+rng.IntN(2), 4+rng.IntN(2)
		}
		r.cells[cLike], r.cells[cImpact] = strconv.Itoa(like), strconv.Itoa(impact)
		r.cells[cAtRisk] = like*impact >= 15
	}
	sh.modifiedAt = now.Truncate(time.Second)
	return id
}

// String describes a contact as Smartsheet displays it.
func (c Contact) String() string {
	if c.Name == "" {
		return c.Email
	}
	return fmt.Sprintf("%s <%s>", c.Name, c.Email)
}
