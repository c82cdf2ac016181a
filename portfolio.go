package pmsync

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"
)

// TopCount is how many red-flag risks and late milestones the portfolio
// lists across its programs.
const TopCount = 10

// Portfolio is the consolidated view of several programs: their totals,
// how many are red, amber and green, the programs in order of need of
// attention, and the worst items across them.
type Portfolio struct {
	// Name is the portfolio's name in a group of Report.Portfolios; "" for
	// the whole report (and for the group of programs that name none).
	Name     string       `json:"name"`
	Programs []string     `json:"programs"` // ids, in report order
	Health   HealthCounts `json:"health"`
	Progress Progress     `json:"progress"`
	// Milestones adds up the programs' milestone counts.
	Milestones MilestoneCounts `json:"milestones"`
	Risks      RiskCounts      `json:"risks"`
	Budget     PortfolioBudget `json:"budget"`
	Items      ItemCounts      `json:"items"`
	Throughput Throughput      `json:"throughput"`
	// Attention ranks the programs, the one most in need first.
	Attention []Attention `json:"attention"`
	// RedFlags are the portfolio's highest-scoring red-flag risks and Late
	// its longest-overdue milestones (at most TopCount each; the counts
	// are in Risks and Milestones).
	RedFlags []ItemRef `json:"top_red_flag_risks"`
	Late     []ItemRef `json:"top_late_milestones"`
	// Slips are the largest slips across the programs (at most TopCount).
	Slips []Slip `json:"top_slips"`
	Trend Trend  `json:"trend"`
	// Changes are the programs' changes since their previous rollup, each
	// led by the program's name; ChangesSince likewise.
	Changes      []string      `json:"changes"`
	ChangesSince *ChangesSince `json:"changes_since,omitempty"`
}

// HealthCounts is the health distribution of a portfolio.
type HealthCounts struct {
	Red   int `json:"red"`
	Amber int `json:"amber"`
	Green int `json:"green"`
}

// PortfolioBudget totals the programs' budgets. Amounts in different
// currencies are never added: the totals are null when the programs use
// more than one, and ByCurrency holds one total per currency.
type PortfolioBudget struct {
	Currency string   `json:"currency,omitempty"`
	Planned  *float64 `json:"planned"`
	Actual   *float64 `json:"actual"`
	// BurnPercent is Σ actual ÷ Σ planned over programs with a planned
	// budget; ElapsedPercent the planned-weighted mean of their elapsed
	// time (null unless every one of them has dates), and VariancePoints
	// their difference.
	BurnPercent    *float64 `json:"burn_percent"`
	ElapsedPercent *float64 `json:"elapsed_percent"`
	VariancePoints *float64 `json:"variance_points"`
	// BurnRate adds up the programs' weekly burn; null unless every
	// program with money in it has one. Programs with no money at all
	// (nothing planned, nothing spent) are left out of the budget totals.
	BurnRate   *float64        `json:"burn_rate_per_week"`
	ByCurrency []CurrencyTotal `json:"by_currency"`
}

// CurrencyTotal is the budget of the programs that share a currency.
type CurrencyTotal struct {
	Currency    string   `json:"currency"`
	Planned     float64  `json:"planned"`
	Actual      float64  `json:"actual"`
	BurnPercent *float64 `json:"burn_percent"`
}

// Attention is one program's place in the ranking by need of attention:
// red before amber before green, then more late milestones, more red-flag
// risks, more milestones at risk, more slipped milestones, a larger burn
// variance, and finally the program id.
type Attention struct {
	Rank           int          `json:"rank"`
	Program        string       `json:"program"`
	Name           string       `json:"name"`
	Portfolio      string       `json:"portfolio,omitempty"`
	Owner          string       `json:"owner,omitempty"`
	Health         HealthStatus `json:"health"`
	Reasons        []string     `json:"reasons"`
	LateMilestones int          `json:"late_milestones"`
	RedFlags       int          `json:"red_flags"`
	AtRisk         int          `json:"at_risk_milestones"`
	Slipped        int          `json:"slipped_milestones"`
	VariancePoints *float64     `json:"variance_points"`
}

// NewReport assembles a report from programs' rollups: the portfolio
// totals, one group per portfolio name when any program names one, and the
// report's version.
func NewReport(asOf Date, generated time.Time, programs []Rollup) Report {
	rep := Report{Schema: Schema, AsOf: asOf, GeneratedAt: generated, Programs: orEmpty(programs), Portfolios: []Portfolio{}}
	rep.Portfolio = Consolidate("", rep.Programs)
	named := slices.ContainsFunc(rep.Programs, func(r Rollup) bool { return r.Portfolio != "" })
	if named {
		var order []string
		for _, r := range rep.Programs {
			if !slices.Contains(order, r.Portfolio) {
				order = append(order, r.Portfolio)
			}
		}
		for _, name := range order {
			var members []Rollup
			for _, r := range rep.Programs {
				if r.Portfolio == name {
					members = append(members, r)
				}
			}
			rep.Portfolios = append(rep.Portfolios, Consolidate(name, members))
		}
	}
	rep.Version = reportVersion(rep)
	return rep
}

// reportVersion fingerprints a report's content: its programs' versions
// and the totals, not when it was made nor its history.
func reportVersion(rep Report) string {
	strip := func(p Portfolio) Portfolio {
		p.Trend, p.Changes, p.ChangesSince = Trend{}, nil, nil
		return p
	}
	doc := struct {
		AsOf       Date
		Versions   []string
		Portfolio  Portfolio
		Portfolios []Portfolio
	}{AsOf: rep.AsOf, Portfolio: strip(rep.Portfolio)}
	for _, r := range rep.Programs {
		doc.Versions = append(doc.Versions, r.ID+"="+r.Version)
	}
	for _, g := range rep.Portfolios {
		doc.Portfolios = append(doc.Portfolios, strip(g))
	}
	b, _ := json.Marshal(doc)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// Consolidate totals programs' rollups into a portfolio view.
func Consolidate(name string, programs []Rollup) Portfolio {
	p := Portfolio{Name: name, Programs: []string{}, Attention: []Attention{}, Changes: []string{}}
	created7, created28 := 0, 0
	createdKnown7, createdKnown28 := true, true
	for _, r := range programs {
		p.Programs = append(p.Programs, r.ID)
		switch r.Health.Status {
		case Red:
			p.Health.Red++
		case Amber:
			p.Health.Amber++
		default:
			p.Health.Green++
		}
		p.Progress.Done += r.Progress.Done
		p.Progress.Total += r.Progress.Total
		m := r.Milestones
		p.Milestones.Total += m.Total
		p.Milestones.Done += m.Done
		p.Milestones.Late += m.Late
		p.Milestones.DueSoon += m.DueSoon
		p.Milestones.Behind += m.Behind
		p.Milestones.AtRisk += m.AtRisk
		p.Milestones.Slipped += m.Slipped
		p.Milestones.SlipDays += m.SlipDays
		p.Risks.Open += r.Risks.Open
		p.Risks.RedFlags += r.Risks.RedFlags
		p.Items.Live += r.Items.Live
		p.Items.Deleted += r.Items.Deleted
		p.Throughput.Done7 += r.Throughput.Done7
		p.Throughput.Done28 += r.Throughput.Done28
		if r.Throughput.Created7 == nil {
			createdKnown7 = false
		} else {
			created7 += *r.Throughput.Created7
		}
		if r.Throughput.Created28 == nil {
			createdKnown28 = false
		} else {
			created28 += *r.Throughput.Created28
		}
		for _, x := range r.RedFlags {
			x.Program = r.ID
			p.RedFlags = append(p.RedFlags, x)
		}
		for _, x := range r.Late {
			x.Program = r.ID
			p.Late = append(p.Late, x)
		}
		for _, s := range r.Slips {
			s.Program = r.ID
			p.Slips = append(p.Slips, s)
		}
		p.Attention = append(p.Attention, Attention{Program: r.ID, Name: r.Name, Portfolio: r.Portfolio, Owner: r.Owner,
			Health: r.Health.Status, Reasons: orEmpty(r.Health.Reasons), LateMilestones: m.Late, RedFlags: r.Risks.RedFlags,
			AtRisk: m.AtRisk, Slipped: m.Slipped, VariancePoints: r.Budget.VariancePoints})
		for _, c := range r.Changes {
			p.Changes = append(p.Changes, r.Name+": "+c)
		}
		if cs := r.ChangesSince; cs != nil {
			if p.ChangesSince == nil {
				p.ChangesSince = &ChangesSince{Since: cs.Since, Changes: []string{}}
			}
			for _, c := range cs.Changes {
				p.ChangesSince.Changes = append(p.ChangesSince.Changes, r.Name+": "+c)
			}
		}
	}
	p.Progress.Percent = percent(p.Progress.Done, p.Progress.Total)
	if len(programs) > 0 && createdKnown7 {
		p.Throughput.Created7 = &created7
	}
	if len(programs) > 0 && createdKnown28 {
		p.Throughput.Created28 = &created28
	}
	slices.SortFunc(p.RedFlags, func(a, b ItemRef) int {
		return cmp.Or(-cmp.Compare(a.Score, b.Score), cmp.Compare(a.Program, b.Program), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	slices.SortFunc(p.Late, func(a, b ItemRef) int {
		return cmp.Or(cmp.Compare(a.Due, b.Due), cmp.Compare(a.Program, b.Program), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	slices.SortFunc(p.Slips, func(a, b Slip) int {
		return cmp.Or(-cmp.Compare(a.Days, b.Days), cmp.Compare(a.Program, b.Program), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	p.RedFlags = orEmpty(p.RedFlags[:min(len(p.RedFlags), TopCount)])
	p.Late = orEmpty(p.Late[:min(len(p.Late), TopCount)])
	p.Slips = orEmpty(p.Slips[:min(len(p.Slips), TopCount)])
	slices.SortFunc(p.Attention, attentionOrder)
	for i := range p.Attention {
		p.Attention[i].Rank = i + 1
	}
	p.Budget = portfolioBudget(programs)
	p.Trend = portfolioTrend(programs, len(p.Budget.ByCurrency) <= 1)
	return p
}

func severity(h HealthStatus) int {
	switch h {
	case Red:
		return 2
	case Amber:
		return 1
	}
	return 0
}

func attentionOrder(a, b Attention) int {
	va, vb := -1e308, -1e308
	if a.VariancePoints != nil {
		va = *a.VariancePoints
	}
	if b.VariancePoints != nil {
		vb = *b.VariancePoints
	}
	return cmp.Or(
		-cmp.Compare(severity(a.Health), severity(b.Health)),
		-cmp.Compare(a.LateMilestones, b.LateMilestones),
		-cmp.Compare(a.RedFlags, b.RedFlags),
		-cmp.Compare(a.AtRisk, b.AtRisk),
		-cmp.Compare(a.Slipped, b.Slipped),
		-cmp.Compare(va, vb),
		cmp.Compare(a.Program, b.Program),
	)
}

func portfolioBudget(programs []Rollup) PortfolioBudget {
	b := PortfolioBudget{ByCurrency: []CurrencyTotal{}}
	byCur := map[string]*CurrencyTotal{}
	var plannedWithBudget, actualWithBudget, weighted float64
	elapsedKnown, rateKnown := true, true
	var rate float64
	for _, r := range programs {
		if r.Budget.Planned == 0 && r.Budget.Actual == 0 && r.Budget.BurnRate == nil {
			continue // no money to add, in whatever currency
		}
		c := byCur[r.Budget.Currency]
		if c == nil {
			c = &CurrencyTotal{Currency: r.Budget.Currency}
			byCur[r.Budget.Currency] = c
			b.ByCurrency = append(b.ByCurrency, CurrencyTotal{Currency: r.Budget.Currency})
		}
		c.Planned += r.Budget.Planned
		c.Actual += r.Budget.Actual
		if r.Budget.Planned > 0 {
			plannedWithBudget += r.Budget.Planned
			actualWithBudget += r.Budget.Actual
			if r.Budget.ElapsedPercent == nil {
				elapsedKnown = false
			} else {
				weighted += r.Budget.Planned * *r.Budget.ElapsedPercent
			}
		}
		if r.Budget.BurnRate == nil {
			rateKnown = false
		} else {
			rate += *r.Budget.BurnRate
		}
	}
	for i := range b.ByCurrency {
		c := byCur[b.ByCurrency[i].Currency]
		c.Planned, c.Actual = round2(c.Planned), round2(c.Actual)
		if c.Planned > 0 {
			c.BurnPercent = ptr(round2(100 * c.Actual / c.Planned))
		}
		b.ByCurrency[i] = *c
	}
	if len(b.ByCurrency) != 1 {
		return b // no programs, or amounts in several currencies
	}
	one := b.ByCurrency[0]
	b.Currency = one.Currency
	b.Planned, b.Actual = ptr(one.Planned), ptr(one.Actual)
	if plannedWithBudget > 0 {
		b.BurnPercent = ptr(round2(100 * actualWithBudget / plannedWithBudget))
		if elapsedKnown {
			b.ElapsedPercent = ptr(round2(weighted / plannedWithBudget))
			b.VariancePoints = ptr(round2(*b.BurnPercent - *b.ElapsedPercent))
		}
	}
	if rateKnown {
		b.BurnRate = ptr(round2(rate)) // at least one program has money in it: the one currency
	}
	return b
}

// portfolioTrend adds up the programs' trends: on each day that any of them
// has a point, every program counts with its newest point up to that day
// (a program with none yet is left out). Money is added only when the
// programs share a currency.
func portfolioTrend(programs []Rollup, oneCurrency bool) Trend {
	t := Trend{Points: []TrendPoint{}}
	var days []Date
	for _, r := range programs {
		if t.Since == "" || (r.Trend.Since != "" && r.Trend.Since < t.Since) {
			t.Since = r.Trend.Since
		}
		for _, pt := range r.Trend.Points {
			days = append(days, pt.AsOf)
		}
	}
	slices.Sort(days)
	days = slices.Compact(days)
	for _, d := range days {
		sum := TrendPoint{AsOf: d}
		for _, r := range programs {
			var at *TrendPoint
			for i := range r.Trend.Points {
				if r.Trend.Points[i].AsOf <= d {
					at = &r.Trend.Points[i]
				}
			}
			if at == nil {
				continue
			}
			sum.Done += at.Done
			sum.Total += at.Total
			sum.LateMilestones += at.LateMilestones
			sum.RedFlags += at.RedFlags
			sum.Planned += at.Planned
			sum.Actual += at.Actual
		}
		if sum.Total > 0 {
			sum.Progress = ptr(percent(sum.Done, sum.Total))
		}
		if !oneCurrency {
			sum.Planned, sum.Actual = 0, 0
		}
		sum.Planned, sum.Actual = round2(sum.Planned), round2(sum.Actual)
		if sum.Planned > 0 {
			sum.Burn = ptr(round2(100 * sum.Actual / sum.Planned))
		}
		t.Points = append(t.Points, sum)
	}
	return t
}
