package projections

import (
	"strconv"
	"testing"
)

// The names a projector keeps from one batch to the next are bounded: a rebuild's at
// maxKeptNames, the live projector's at the much smaller liveKeptNames, so that a
// day of writes all over a large organization does not stay in the live heap.
func TestKeptNamesAreEmptiedPastTheirBound(t *testing.T) {
	fill := func(k *keptNames, n int) {
		names, emails, sealed := k.maps()
		for i := range n {
			key := secretKey{"org", strconv.Itoa(i)}
			names[key] = "NAME_" + strconv.Itoa(i)
			emails[strconv.Itoa(i)] = "u@example.com"
			sealed[key] = sealedName{name: names[key]}
		}
	}
	sizes := func(k *keptNames) [3]int {
		names, emails, sealed := k.maps()
		return [3]int{len(names), len(emails), len(sealed)}
	}

	small := &keptNames{max: 4}
	fill(small, 4)
	if got := sizes(small); got != [3]int{4, 4, 4} {
		t.Fatalf("at its bound: kept %v, want all 4 of each", got)
	}
	fill(small, 5)
	if got := sizes(small); got != [3]int{0, 0, 0} {
		t.Fatalf("past its bound: kept %v, want every map emptied", got)
	}

	rebuild := &keptNames{}
	fill(rebuild, 5)
	if got := sizes(rebuild); got != [3]int{5, 5, 5} {
		t.Fatalf("a rebuild's (bound %d): kept %v, want 5 of each", maxKeptNames, got)
	}

	p := &Projector{db: &writer{}}
	p.keepNames(&batchTx{})
	if p.kept == nil || p.kept.max != liveKeptNames || liveKeptNames >= maxKeptNames {
		t.Fatalf("the live projector keeps names under bound %v, want liveKeptNames (%d), below a rebuild's %d",
			p.kept, liveKeptNames, maxKeptNames)
	}
}
