package main

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// defaultMemoryLimit is serve's soft memory limit for the Go runtime when neither
// --memory-limit nor GOMEMLIMIT sets one. Without a limit the runtime lets the heap
// grow to twice what was live at the last collection (GOGC=100), and a burst (values
// fetches of a large environment) left the process at several times its live memory:
// at 100,000 secrets the bench's peak RSS was 830-960 MB. Under 512 MiB it was 540 MB,
// at the same CPU per reveal. Lower limits trade CPU for memory: with nats-server
// 2.15.2, whose expected-sequence checks loaded whole 8 MB blocks that it holds only
// weakly, 320-384 MiB made a reveal cost 1.5-2.5 times the CPU; with 2.15.3 (round
// 12), 256 MiB ends the bench at 270 MB instead of 381 MB for 58 % more CPU per
// 100,000-value fetch and 5-13 % more per write, and at 200 MiB the collector runs all
// the time (the lag phase answers 753 of 1,000 updates a second). Round 13's smaller
// caches brought the live heap to some 120-150 MB at 100,000 secrets and the bench's
// end to 270-291 MB; 200 MiB then ends it at 213 MB, for 2.3 times the CPU per
// 100,000-value fetch and a few percent on writes and reveals. Round 14's fetch,
// which no longer copies its rows' text, ends it at 198 MB under 180 MiB, but that
// limit cost the write and grid phases a fifth to a third in a run. The live heap grows
// with the organization, and a fixed limit near it makes every request pay for
// collections, so this is the ceiling: under it the limit follows the live heap
// (memoryGoal, round 17). It is soft: a larger organization needs a larger one (README).
const defaultMemoryLimit int64 = 512 << 20

// minMemoryLimit refuses limits so small that the collector would run all the time:
// a limit written without its unit ("512", 512 bytes) is a mistake, not a setting.
const minMemoryLimit int64 = 32 << 20

// memoryLimitUnits are GOMEMLIMIT's units, so that the flag reads like the variable.
var memoryLimitUnits = []struct {
	suffix string
	factor int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1},
}

// parseMemoryLimit reads a memory limit the way the Go runtime reads GOMEMLIMIT (a
// whole number of bytes with an optional B, KiB, MiB, GiB or TiB suffix) or "off" for
// none (math.MaxInt64, the runtime's own "no limit").
func parseMemoryLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return math.MaxInt64, nil
	}
	factor := int64(1)
	for _, u := range memoryLimitUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = n, u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a size such as 512MiB or 2GiB, or off")
	}
	if n > math.MaxInt64/factor {
		return 0, errors.New("too large")
	}
	if n*factor < minMemoryLimit {
		return 0, fmt.Errorf("at least %dMiB (a size without a unit is in bytes)", minMemoryLimit>>20)
	}
	return n * factor, nil
}

// memoryLimit is the limit serve sets: the flag's (or KEYLEDGER_MEMORY_LIMIT's) when
// given, else none when GOMEMLIMIT is set (the runtime has already applied it), else
// defaultMemoryLimit. set is false when the runtime's own setting stays.
func memoryLimit(flag, gomemlimit string) (limit int64, set bool, err error) {
	if strings.TrimSpace(flag) != "" {
		limit, err := parseMemoryLimit(flag)
		if err != nil {
			return 0, false, fmt.Errorf("KEYLEDGER_MEMORY_LIMIT %q: %w", flag, err)
		}
		return limit, true, nil
	}
	if gomemlimit != "" {
		return 0, false, nil
	}
	return defaultMemoryLimit, true, nil
}

// applyMemoryLimit sets the runtime's soft memory limit as c says and returns the
// limit in force.
func applyMemoryLimit(c *config) int64 {
	if c.memoryLimitSet {
		debug.SetMemoryLimit(c.MemoryLimit)
	}
	return debug.SetMemoryLimit(-1)
}

// startMemoryGoal keeps the soft limit following the live heap between c's memory
// goal and limit, the limit in force (memoryGoal), until stop; ok is false when
// memoryGoalFor says the limit alone rules.
func startMemoryGoal(c *config, limit int64) (stop func(), ok bool) {
	if !goalApplies(c.MemoryGoal, limit) {
		return func() {}, false
	}
	return newMemoryGoal(c.MemoryGoal, limit).start(), true
}

// defaultMemoryGoal is what serve keeps its heap within while the live heap leaves
// room for it: the soft limit follows the live heap (memoryGoal), at least this, at
// most the memory limit. Under GOGC=100 alone the heap grows to twice what was live
// at the last collection, and at 100,000 secrets (a live heap of ~110 MB in round 17)
// the bench ended at 266-305 MB RSS; with this goal at 198-200 MB, for 14-34 % more
// server CPU per operation in its busiest phases and 55-82 % more per 100,000-value
// fetch. A fixed limit this low cost more (2.5 times the CPU per such fetch): the
// fetches lift the live heap near it, and the collector then runs all the time.
const defaultMemoryGoal int64 = 180 << 20

// memoryGoal keeps the runtime's soft memory limit at limitFor(live heap, busy room)
// after every collection, and once a second in between: the goal while the live heap
// is under two thirds of it, the live heap and half of it again above that (the room
// GOGC=50 leaves), never above ceiling (the memory limit in force). A small server's
// heap grows as GOGC lets it; a large one's collector runs sooner than GOGC=100's, for
// less memory; and a burst that lifts the live heap lifts the limit with it at the
// next collection, instead of making the collector run all the time under a fixed
// limit.
//
// A busy server also gets the room it allocates in busyWindow (the allocation rate,
// smoothed over about that long), up to the live heap again: GOGC=100's room, while it
// allocates fast. Under the goal alone a server creating 3,900 secrets a second at
// 100,000 secrets collected 3.5 times a second, and each collection's marking held
// every request in flight up for 10-30 ms on two cores (BENCHMARKS round 34). Once the
// allocations slow down the room shrinks with them, at the next collection or at the
// next tick, whichever is first: a server at rest after a burst of creates had its
// limit back at the goal's rule within two seconds, and the runtime returns memory
// down to it (round 34: RSS 261 MB, then 211, then 200 after the next collection).
type memoryGoal struct {
	goal, ceiling int64
	// set sets the runtime's soft limit (debug.SetMemoryLimit); live reads the heap
	// that the last collection marked live; allocated the bytes allocated since the
	// process started; now the clock.
	set       func(int64) int64
	live      func() int64
	allocated func() int64
	now       func() time.Time
	stop      atomic.Bool

	mu sync.Mutex
	// rate is the allocation rate in bytes a second, smoothed; lastAllocated and
	// lastAt are where the last adjust measured from.
	rate          float64
	lastAllocated int64
	lastAt        time.Time
}

// busyWindow is how long an allocation rate is averaged over, and how much of it a
// busy server is given as room (at most its live heap).
const busyWindow = time.Second

// limitFor is the soft limit for a live heap of live bytes when a busy server's room
// is room bytes.
func limitFor(live, room, goal, ceiling int64) int64 {
	return min(max(goal, live+live/2, live+min(room, live)), ceiling)
}

// newMemoryGoal is a memoryGoal on the runtime's own limit and heap.
func newMemoryGoal(goal, ceiling int64) *memoryGoal {
	return &memoryGoal{goal: goal, ceiling: ceiling, set: debug.SetMemoryLimit, live: liveHeap, allocated: heapAllocated, now: time.Now}
}

// liveHeap is the heap the last collection marked live (runtime/metrics).
func liveHeap() int64 { return readMetric("/gc/heap/live:bytes") }

// heapAllocated is the bytes allocated on the heap since the process started.
func heapAllocated() int64 { return readMetric("/gc/heap/allocs:bytes") }

func readMetric(name string) int64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(min(s[0].Value.Uint64(), math.MaxInt64))
}

// start sets the limit for the heap live now, again after every collection and once
// every busyWindow, until stop is called.
func (m *memoryGoal) start() (stop func()) {
	m.adjust()
	m.arm()
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(busyWindow)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.adjust()
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		m.stop.Store(true)
		once.Do(func() { close(done) })
	}
}

// gcSentinel is allocated for one collection to find unreachable. It holds a
// pointer so that it is not a tiny allocation, whose cleanups may never run.
type gcSentinel struct {
	_ *byte
	_ [8]byte
}

// arm asks for adjust after the next collection: a cleanup runs once the object it
// is attached to is found unreachable, which the next collection does for a sentinel
// nothing refers to.
func (m *memoryGoal) arm() {
	runtime.AddCleanup(new(gcSentinel), func(m *memoryGoal) {
		if m.stop.Load() {
			return
		}
		m.adjust()
		m.arm()
	}, m)
}

// adjust measures the allocation rate since it last ran and sets the limit for the
// live heap and that rate.
func (m *memoryGoal) adjust() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stop.Load() {
		return
	}
	now, allocated := m.now(), m.allocated()
	if !m.lastAt.IsZero() {
		if dt := now.Sub(m.lastAt); dt > 0 {
			rate := float64(allocated-m.lastAllocated) / dt.Seconds()
			// An average over about busyWindow: a longer interval counts as whole.
			w := min(dt.Seconds()/busyWindow.Seconds(), 1)
			m.rate += w * (rate - m.rate)
		}
	}
	m.lastAt, m.lastAllocated = now, allocated
	room := int64(min(m.rate*busyWindow.Seconds(), math.MaxInt64/4))
	m.set(limitFor(m.live(), room, m.goal, m.ceiling))
}

// parseMemoryGoal reads --memory-goal as parseMemoryLimit reads a limit, off as 0 (no
// goal), and nothing as defaultMemoryGoal.
func parseMemoryGoal(s string) (int64, error) {
	if strings.TrimSpace(s) == "" {
		return defaultMemoryGoal, nil
	}
	goal, err := parseMemoryLimit(s)
	if err != nil {
		return 0, fmt.Errorf("KEYLEDGER_MEMORY_GOAL %q: %w", s, err)
	}
	if goal == math.MaxInt64 {
		return 0, nil
	}
	return goal, nil
}

// goalApplies says whether serve keeps a goal under the limit in force: not when the
// goal is off, the limit is off, or the goal is not below it (the limit alone then
// rules).
func goalApplies(goal, limit int64) bool {
	return goal > 0 && limit != math.MaxInt64 && goal < limit
}
