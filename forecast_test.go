package pmsync

import "testing"

// With weeks of 10, 0 and 0 tasks drawn with replacement, finishing 10
// tasks takes a geometric number of weeks with p = 1/3: P(N ≤ n) =
// 1 − (2/3)^n = .333, .556, .704, .802, .868 for n = 1…5. The p50 is the
// first n reaching .5 (2 weeks) and the p85 the first reaching .85 (5
// weeks); 10 000 trials put each within several standard errors of its
// neighbours' thresholds.
func TestSimulateMatchesTheGeometricLaw(t *testing.T) {
	got := simulate([]int{10, 0, 0}, []int{10}, forecastTrials, 42)
	if got[0] != [2]int{2, 5} {
		t.Errorf("p50, p85 = %v, want [2 5]", got[0])
	}
}

// A constant throughput leaves nothing to chance: 7 tasks at 3 a week
// take ⌈7 / 3⌉ = 3 weeks, 3 tasks 1 week, whatever the seed.
func TestSimulateConstantThroughput(t *testing.T) {
	for _, seed := range []uint64{1, 2, 99} {
		got := simulate([]int{3, 3, 3}, []int{3, 7}, 500, seed)
		if got[0] != [2]int{1, 1} || got[1] != [2]int{3, 3} {
			t.Errorf("seed %d: %v, want [[1 1] [3 3]]", seed, got)
		}
	}
}

// The same program, date and history give the same forecast; the seed is
// derived from the program and the date, so it is reported.
func TestForecastIsReproducible(t *testing.T) {
	a := simulate([]int{0, 2, 5, 1, 0, 3, 4, 1}, []int{5, 12, 30}, forecastTrials, forecastSeed("ehr", "2026-07-02"))
	b := simulate([]int{0, 2, 5, 1, 0, 3, 4, 1}, []int{5, 12, 30}, forecastTrials, forecastSeed("ehr", "2026-07-02"))
	if a[0] != b[0] || a[1] != b[1] || a[2] != b[2] {
		t.Errorf("two runs differ: %v %v", a, b)
	}
	// More work never finishes sooner, and p85 is never before p50.
	for i, w := range a {
		if w[0] > w[1] || (i > 0 && (w[0] < a[i-1][0] || w[1] < a[i-1][1])) {
			t.Errorf("percentiles out of order: %v", a)
		}
	}
	if forecastSeed("ehr", "2026-07-02") == forecastSeed("ehr", "2026-07-03") {
		t.Error("the seed does not depend on the date")
	}
}

// Work that zero-throughput weeks would never finish has no forecast.
func TestSimulateBeyondTheHorizon(t *testing.T) {
	if got := simulate([]int{1, 0, 0, 0, 0, 0, 0, 0}, []int{1000}, 200, 7); got[0][1] <= forecastHorizon {
		t.Errorf("1000 tasks at ⅛ a week: p85 %d weeks, want beyond %d", got[0][1], forecastHorizon)
	}
}
