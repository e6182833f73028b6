package projections

import (
	"math"
	"runtime/debug"
)

// rebuildGCPercent is the collector's GOGC while a rebuild runs. A rebuild allocates
// for every event it applies (decoded events, audit rows, statements), and with the
// default 100 the collector ran 8-9 times per 100,000 events, about a quarter of the
// rebuild's CPU. The memory limit, which it is raised under only, still bounds the heap.
const rebuildGCPercent = 400

// gcRuntime is the part of the Go runtime a rebuild tunes. Its fields are
// debug.SetGCPercent and the memory limit in force (debug.SetMemoryLimit(-1)); a test
// gives fakes, the process's setting being shared with every other test.
type gcRuntime struct {
	setGCPercent func(percent int) (previous int)
	memoryLimit  func() int64
}

// processGC is the process's own collector.
func processGC() gcRuntime {
	return gcRuntime{setGCPercent: debug.SetGCPercent, memoryLimit: func() int64 { return debug.SetMemoryLimit(-1) }}
}

// raiseGCPercent raises the collector's percent to rebuildGCPercent for a rebuild and
// returns what puts it back. It leaves it as it is when no memory limit is in force
// (math.MaxInt64, GOMEMLIMIT=off): the limit is what keeps a raised percent from
// growing the heap to several times what is live, and serve always sets one unless
// told not to. It leaves it as well when it is already as high, or off.
//
// The percent is the process's: the API a rebuild serves beside collects less often
// meanwhile too, within the same limit. Two rebuilds at once in one process (the
// second finds the percent raised and leaves it) cannot leave it raised: the restore
// puts back the percent found unless something else has changed it since, which then
// stays.
func (g gcRuntime) raiseGCPercent() (restore func()) {
	if g.setGCPercent == nil || g.memoryLimit == nil || g.memoryLimit() == math.MaxInt64 {
		return func() {}
	}
	old := g.setGCPercent(rebuildGCPercent)
	if old < 0 || old >= rebuildGCPercent {
		g.setGCPercent(old)
		return func() {}
	}
	return func() {
		if now := g.setGCPercent(old); now != rebuildGCPercent {
			g.setGCPercent(now)
		}
	}
}
