package domain

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// A secret and its clones, each taking versions of its own in any order, each read
// exactly the versions it took (and those it was cloned with), whatever the others
// appended to the arrays they share: checked against plain copies, across enough
// versions to move recent onto old many times, with now and then a version that is
// not the newest.
func TestValueHistoryClonesStayApart(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	type holder struct {
		h    valueHistory
		want []ValueVersion
	}
	holders := []*holder{{}}
	next := 0
	for step := range 20_000 {
		o := holders[rng.IntN(len(holders))]
		switch r := rng.IntN(100); {
		case r < 8 && len(holders) < 40:
			holders = append(holders, &holder{h: o.h.shared(), want: append([]ValueVersion(nil), o.want...)})
		case r < 10 && len(o.want) > 0:
			// A version that is not the newest: between or equal to ones it holds.
			v := ValueVersion{Version: max(1, o.want[rng.IntN(len(o.want))].Version-rng.IntN(2)), Sealed: fmt.Sprint("late-", step)}
			o.h = o.h.with(v)
			o.want = insertVersion(o.want, v)
		default:
			next += 1 + rng.IntN(2)
			v := ValueVersion{Version: next, Sealed: fmt.Sprint("v-", step)}
			o.h = o.h.with(v)
			o.want = insertVersion(o.want, v)
		}
		if step%97 == 0 {
			for i, h := range holders {
				checkHistory(t, fmt.Sprint("step ", step, " holder ", i), h.h, h.want)
			}
		}
	}
	for i, h := range holders {
		checkHistory(t, fmt.Sprint("holder ", i), h.h, h.want)
	}
}

// insertVersion is valueHistory.with on a plain slice.
func insertVersion(vs []ValueVersion, v ValueVersion) []ValueVersion {
	out := make([]ValueVersion, 0, len(vs)+1)
	i := 0
	for i < len(vs) && vs[i].Version < v.Version {
		out = append(out, vs[i])
		i++
	}
	out = append(out, v)
	if i < len(vs) && vs[i].Version == v.Version {
		i++
	}
	return append(out, vs[i:]...)
}

func checkHistory(t *testing.T, who string, h valueHistory, want []ValueVersion) {
	t.Helper()
	if h.len() != len(want) {
		t.Fatalf("%s: %d versions, want %d", who, h.len(), len(want))
	}
	for i, w := range want {
		if got := h.at(i); got != w {
			t.Fatalf("%s: version %d is %+v, want %+v", who, i, got, w)
		}
		if got, ok := h.find(w.Version); !ok || got != w {
			t.Fatalf("%s: find(%d) = %+v, %v; want %+v", who, w.Version, got, ok, w)
		}
	}
	if _, ok := h.find(0); ok {
		t.Fatalf("%s: found version 0", who)
	}
}

// What a clone costs to take one new version does not grow with the value's history:
// it was a copy of the whole history (some 1.2 MB at 30,000 versions), for every
// write to a cached secret, which decides on a clone and answers from another. The
// cost is averaged over clones taken at each of the next 2 × historyChunk versions,
// so that it counts the appends that start a chunk too.
func TestCloneTakesANewVersionWithoutCopyingTheHistory(t *testing.T) {
	at := time.Unix(0, 0)
	update := func(v int) Recorded {
		return Recorded{Time: at, Event: SecretUpdated{Set: map[Environment]ValueVersion{Production: {Version: v, Mask: "m", Sealed: "s"}}}}
	}
	cost := func(versions int) uint64 {
		s := NewSecret("org", "secret")
		s.Apply(Recorded{Time: at, Event: SecretCreated{Name: "K", OwnerID: "u"}})
		for v := 1; v <= versions; v++ {
			s.Apply(update(v))
		}
		var clones []*Secret
		for v := versions + 1; v <= versions+2*historyChunk; v++ {
			clones = append(clones, s.Clone())
			s.Apply(update(v))
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i, c := range clones {
			c.Apply(update(versions + 1 + i))
		}
		runtime.ReadMemStats(&after)
		for i, c := range clones {
			if got, ok := c.ValueAt(Production, versions+1+i); !ok || got.Version != versions+1+i {
				t.Fatalf("a clone of a secret with %d versions lost its new one", versions+i)
			}
			if got, ok := c.ValueAt(Production, 1); !ok || got.Version != 1 {
				t.Fatalf("a clone of a secret with %d versions lost the first one", versions+i)
			}
			if _, ok := c.ValueAt(Production, versions+2+i); ok {
				t.Fatalf("a clone saw a version the secret took after it was cloned")
			}
		}
		return (after.TotalAlloc - before.TotalAlloc) / uint64(len(clones))
	}
	small, large := cost(1_000), cost(30_000)
	t.Logf("bytes allocated by a clone's new version: %d at 1,000 versions, %d at 30,000", small, large)
	if large > 2*small+1024 {
		t.Fatalf("a clone's new version allocates %d bytes at 30,000 versions and %d at 1,000: it grows with the history", large, small)
	}
}
