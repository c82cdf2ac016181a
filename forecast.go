package pmsync

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
)

const (
	// forecastWeeks is how many weeks of throughput a forecast samples.
	forecastWeeks = 8
	// forecastTrials is how many futures the Monte Carlo draws.
	forecastTrials = 10000
	// forecastHorizon bounds a simulated future, in weeks (ten years): work
	// not finished by then has no forecast.
	forecastHorizon = 520
)

// forecastAll gives every open milestone with linked work its likely
// completion dates. One Monte Carlo serves them all: each trial draws
// weekly throughputs, with replacement, from the program's observed weeks
// until the largest remaining work is done, and each milestone finishes in
// the first week whose running total covers its open tasks. p50 and p85
// are the nearest-rank percentiles of those weeks. The generator is seeded
// from the program and the as-of date, so a rollup is reproducible.
func forecastAll(program string, asOf Date, weekly []int, work []*milestoneWork, info *Forecasting) {
	total := 0
	for _, n := range weekly {
		total += n
	}
	var need []int
	for _, mw := range work {
		switch {
		case !mw.hasLinked:
			mw.view.Why = "no forecast: no task counts toward it"
		case mw.remaining == 0:
			mw.view.Forecast = &Forecast{P50: asOf, P85: asOf}
		case len(weekly) == 0:
			mw.view.Why = "no forecast: no throughput history yet"
		case total == 0:
			mw.view.Why = fmt.Sprintf("no forecast: no task done in the last %s", plural(len(weekly), "week"))
		default:
			need = append(need, mw.remaining)
		}
	}
	if len(need) == 0 {
		return
	}
	slices.Sort(need)
	need = slices.Compact(need)
	seed := forecastSeed(program, asOf)
	info.Trials, info.Seed = forecastTrials, seed
	weeks := simulate(weekly, need, forecastTrials, seed)
	for _, mw := range work {
		i, ok := slices.BinarySearch(need, mw.remaining)
		if !ok || mw.view.Forecast != nil {
			continue
		}
		w50, w85 := weeks[i][0], weeks[i][1]
		if w85 > forecastHorizon {
			mw.view.Why = fmt.Sprintf("no forecast: %s would not be done within %d years at this throughput", plural(mw.remaining, "open task"), forecastHorizon/52)
			continue
		}
		mw.view.Forecast = &Forecast{P50: asOf.AddDays(7 * w50), P85: asOf.AddDays(7 * w85), Remaining: mw.remaining}
	}
}

// simulate returns, for each amount of work in need (ascending), the p50
// and p85 of the weeks it takes; forecastHorizon+1 stands for "not within
// the horizon".
func simulate(weekly, need []int, trials int, seed uint64) [][2]int {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	hist := make([][]int32, len(need)) // weeks taken → trials
	for i := range hist {
		hist[i] = make([]int32, forecastHorizon+2)
	}
	most := need[len(need)-1]
	cum := make([]int, 0, 64)
	for range trials {
		cum = cum[:0]
		sum := 0
		for sum < most && len(cum) < forecastHorizon {
			sum += weekly[rng.IntN(len(weekly))]
			cum = append(cum, sum)
		}
		w := 0
		for i, n := range need {
			for w < len(cum) && cum[w] < n {
				w++
			}
			if w < len(cum) {
				hist[i][w+1]++
			} else {
				hist[i][forecastHorizon+1]++
			}
		}
	}
	out := make([][2]int, len(need))
	for i, h := range hist {
		out[i] = [2]int{nearestRank(h, 0.50, trials), nearestRank(h, 0.85, trials)}
	}
	return out
}

// nearestRank returns the smallest number of weeks that at least the
// share p of the trials took no longer than.
func nearestRank(hist []int32, p float64, trials int) int {
	rank := int32(math.Ceil(p * float64(trials)))
	var seen int32
	for w, n := range hist {
		seen += n
		if seen >= rank {
			return w
		}
	}
	return len(hist) - 1
}

// forecastSeed derives the Monte Carlo seed of a program's rollup.
func forecastSeed(program string, asOf Date) uint64 {
	h := fnv.New64a()
	h.Write([]byte(program))
	h.Write([]byte{0})
	h.Write([]byte(asOf))
	return h.Sum64()
}
