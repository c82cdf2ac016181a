package pmsync

import "slices"

// RiskMatrix counts a program's open risks by likelihood and impact, the
// 5 × 5 grid a steering committee reads risks from.
type RiskMatrix struct {
	// Cells lists the cells holding at least one open risk, highest
	// likelihood first, then highest impact.
	Cells []RiskCell `json:"cells"`
	// Unrated counts open risks missing a likelihood or an impact: they
	// have no cell and no score.
	Unrated int `json:"unrated"`
}

// RiskCell is one cell of the risk matrix.
type RiskCell struct {
	Likelihood int `json:"likelihood"` // 1..5
	Impact     int `json:"impact"`     // 1..5
	Risks      int `json:"risks"`      // open risks in the cell
}

// add counts one open risk.
func (m *RiskMatrix) add(likelihood, impact int) {
	if likelihood < 1 || likelihood > 5 || impact < 1 || impact > 5 {
		m.Unrated++
		return
	}
	i, found := slices.BinarySearchFunc(m.Cells, RiskCell{Likelihood: likelihood, Impact: impact}, func(a, b RiskCell) int {
		if a.Likelihood != b.Likelihood {
			return b.Likelihood - a.Likelihood
		}
		return b.Impact - a.Impact
	})
	if !found {
		m.Cells = slices.Insert(m.Cells, i, RiskCell{Likelihood: likelihood, Impact: impact})
	}
	m.Cells[i].Risks++
}

// Count returns the open risks of likelihood l and impact i.
func (m RiskMatrix) Count(l, i int) int {
	for _, c := range m.Cells {
		if c.Likelihood == l && c.Impact == i {
			return c.Risks
		}
	}
	return 0
}
