package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

// The soft limit for a live heap: the goal while the live heap is under two thirds of
// it, the live heap and half of it again above that, or the live heap and a busy
// server's room (at most the live heap again) when that is more; never above the
// ceiling.
func TestLimitFor(t *testing.T) {
	t.Parallel()
	const goal, ceiling = 180 << 20, 512 << 20
	for _, tc := range []struct {
		live, room, want int64
	}{
		{0, 0, goal},
		{30 << 20, 0, goal},
		{110 << 20, 0, goal},
		{120 << 20, 0, goal}, // 1.5 × 120 MiB is the goal itself
		{121 << 20, 0, 121 << 20 * 3 / 2},
		{200 << 20, 0, 300 << 20},
		{341 << 20, 0, 341 << 20 * 3 / 2},
		{342 << 20, 0, ceiling},
		{2 << 30, 0, ceiling},
		// A busy server: its room when that is more than the rules above give.
		{100 << 20, 40 << 20, goal},
		{100 << 20, 100 << 20, 200 << 20},
		{130 << 20, 0, 195 << 20},
		{130 << 20, 65 << 20, 195 << 20},
		{130 << 20, 100 << 20, 230 << 20},
		{130 << 20, 130 << 20, 260 << 20},
		{130 << 20, 1 << 30, 260 << 20}, // at most the live heap again
		{30 << 20, 1 << 30, goal},
		{300 << 20, 1 << 30, ceiling},
	} {
		if got := limitFor(tc.live, tc.room, goal, ceiling); got != tc.want {
			t.Errorf("live %d MiB, room %d MiB: limit %d MiB, want %d MiB", tc.live>>20, tc.room>>20, got>>20, tc.want>>20)
		}
	}
}

// A burst of allocations lifts the limit by what the server allocates in a second (up
// to its live heap again); once it stops, the next adjustments bring the limit back to
// the goal.
func TestMemoryGoalGivesABusyServerRoom(t *testing.T) {
	t.Parallel()
	var last int64
	var allocated int64
	clock := time.Unix(0, 0)
	m := &memoryGoal{
		goal: 180 << 20, ceiling: 512 << 20,
		set:       func(l int64) int64 { last = l; return l },
		live:      func() int64 { return 130 << 20 },
		allocated: func() int64 { return allocated },
		now:       func() time.Time { return clock },
	}
	step := func(d time.Duration, bytes int64) int64 {
		clock = clock.Add(d)
		allocated += bytes
		m.adjust()
		return last
	}
	if got := step(0, 0); got != 195<<20 {
		t.Fatalf("at start: limit %d MiB, want 195 (the live heap and half of it)", got>>20)
	}
	// 80 MiB a second for two seconds, measured every half second.
	for range 4 {
		step(500*time.Millisecond, 40<<20)
	}
	if got := last; got < 200<<20 || got > 210<<20 {
		t.Fatalf("after 2 s at 80 MiB/s: limit %d MiB, want about 130 + 80, less what the average has not caught up on", got>>20)
	}
	// 400 MiB a second: the room stops at the live heap.
	step(time.Second, 400<<20)
	if got := last; got != 260<<20 {
		t.Fatalf("at 400 MiB/s: limit %d MiB, want 260 (twice the live heap)", got>>20)
	}
	// Quiet: after one whole second without allocations the room is gone.
	if got := step(time.Second, 0); got != 195<<20 {
		t.Fatalf("after a quiet second: limit %d MiB, want 195 again", got>>20)
	}
}

// --memory-goal (KEYLEDGER_MEMORY_GOAL): a size, or off.
func TestMemoryGoalFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag, env string
		want      int64
		ok        bool
	}{
		{"", "", defaultMemoryGoal, true},
		{"", " ", defaultMemoryGoal, true},
		{"", "off", 0, true},
		{"off", "256MiB", 0, true},
		{"", "256MiB", 256 << 20, true},
		{"1GiB", "256MiB", 1 << 30, true},
		{"180", "", 0, false},
		{"lots", "", 0, false},
	} {
		c, err := serveConfig("memory-goal", tc.flag, map[string]string{"KEYLEDGER_MEMORY_GOAL": tc.env})
		if (err == nil) != tc.ok || (tc.ok && c.MemoryGoal != tc.want) {
			t.Errorf("flag %q env %q: %d, %v; want %d (ok %v)", tc.flag, tc.env, c.MemoryGoal, err, tc.want, tc.ok)
		}
	}
}

// The goal applies only under a limit above it: not when either is off, nor when the
// limit is at or below the goal (the limit alone then rules, as before the goal).
func TestGoalApplies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		goal, limit int64
		ok          bool
	}{
		{180 << 20, 512 << 20, true},
		{0, 512 << 20, false},
		{180 << 20, math.MaxInt64, false},
		{180 << 20, 180 << 20, false},
		{256 << 20, 180 << 20, false},
	} {
		if ok := goalApplies(tc.goal, tc.limit); ok != tc.ok {
			t.Errorf("goal %d limit %d: %v; want %v", tc.goal, tc.limit, ok, tc.ok)
		}
	}
}

// The goal sets the limit for the heap live when it starts and again after every
// collection, from the heap that collection marked live, and stops when told to.
func TestMemoryGoalFollowsEveryCollection(t *testing.T) {
	var mu sync.Mutex
	var set []int64
	live := int64(100 << 20)
	m := &memoryGoal{
		goal: 180 << 20, ceiling: 512 << 20,
		allocated: func() int64 { return 0 },
		now:       time.Now,
		set: func(l int64) int64 {
			mu.Lock()
			defer mu.Unlock()
			set = append(set, l)
			return l
		},
		live: func() int64 {
			mu.Lock()
			defer mu.Unlock()
			return live
		},
	}
	calls := func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int64(nil), set...)
	}
	waitFor := func(n int) []int64 {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if got := calls(); len(got) >= n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d limits set, want %d: %v", len(calls()), n, calls())
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}
	stop := m.start()
	if got := waitFor(1); got[0] != 180<<20 {
		t.Fatalf("first limit %d MiB, want the goal, 180", got[0]>>20)
	}
	mu.Lock()
	live = 300 << 20
	mu.Unlock()
	before := len(calls())
	got := waitFor(before + 1)
	if last := got[len(got)-1]; last != 450<<20 {
		t.Fatalf("after a collection that found 300 MiB live: limit %d MiB, want 450", last>>20)
	}
	stop()
	runtime.GC() // the cleanup armed before stop may still run once
	time.Sleep(50 * time.Millisecond)
	n := len(calls())
	for range 3 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	if after := len(calls()); after != n {
		t.Fatalf("%d limits set after stop", after-n)
	}
}

// On the runtime's own heap: after a collection the runtime's limit is the one the
// goal computes from the heap it found live.
func TestMemoryGoalSetsTheRuntimesLimit(t *testing.T) {
	before := runtimeLimit()
	t.Cleanup(func() { setRuntimeLimit(before) })
	stop := newMemoryGoal(1<<40, 2<<40).start() // a goal no test heap reaches
	defer stop()
	runtime.GC()
	deadline := time.Now().Add(10 * time.Second)
	for runtimeLimit() != 1<<40 {
		if time.Now().After(deadline) {
			t.Fatalf("runtime limit %d, want the goal %d", runtimeLimit(), int64(1<<40))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runtimeLimit() int64     { return debug.SetMemoryLimit(-1) }
func setRuntimeLimit(l int64) { debug.SetMemoryLimit(l) }
