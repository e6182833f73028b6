package projections

import "testing"

// Two rebuilds at once in one process never leave the collector's percent raised,
// whichever ends first; a percent already off or higher is left as it is.
func TestRaiseGCPercentRestoresWhateverTheOrder(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name           string
		start          int
		firstEndsFirst bool
	}{
		{"first ends first", 100, true},
		{"second ends first", 100, false},
		{"collector off", -1, true},
		{"already higher", 800, false},
	} {
		percent := c.start
		g := gcRuntime{
			setGCPercent: func(p int) int { old := percent; percent = p; return old },
			memoryLimit:  func() int64 { return 512 << 20 },
		}
		first := g.raiseGCPercent()
		if c.start >= 0 && c.start < rebuildGCPercent && percent != rebuildGCPercent {
			t.Fatalf("%s: percent %d during the rebuild, want %d", c.name, percent, rebuildGCPercent)
		}
		second := g.raiseGCPercent()
		if c.firstEndsFirst {
			first()
			second()
		} else {
			second()
			first()
		}
		if percent != c.start {
			t.Errorf("%s: percent %d after both rebuilds, want %d", c.name, percent, c.start)
		}
	}
}
