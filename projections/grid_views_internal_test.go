package projections

import (
	"bytes"
	"fmt"
	"testing"
)

// Views stay within their budget however many rows pages render, and an organization
// forgotten (erased) keeps none: neither those kept before nor those that pages still
// under way keep after.
func TestGridViewsStayWithinTheirBudget(t *testing.T) {
	t.Parallel()
	gv := &gridViews{budget: 64 << 10}
	acme, other := &orgNames{}, &orgNames{}
	view := bytes.Repeat([]byte("v"), 600)
	var acmes []*nameEntry
	for i := range 2000 {
		e := &nameEntry{id: fmt.Sprint(i), shard: uint8(i)}
		on := acme
		if i%2 == 1 {
			on = other
		} else {
			acmes = append(acmes, e)
		}
		gv.keep(on, e, view)
		if got := gv.get(e); !bytes.Equal(got, view) {
			t.Fatalf("entry %d: view %q right after keeping it", i, got)
		}
		if n, size := gv.size(); size > gv.budget || size != n*len(view) {
			t.Fatalf("after %d views: %d kept, %d bytes, budget %d", i+1, n, size, gv.budget)
		}
	}
	if n, _ := gv.size(); n < 64 {
		t.Fatalf("only %d views kept within a budget of %d bytes", n, gv.budget)
	}
	gv.forget(acme)
	for _, e := range acmes {
		if gv.get(e) != nil {
			t.Fatalf("a view of a forgotten organization stayed")
		}
	}
	gv.keep(acme, acmes[0], view)
	if gv.get(acmes[0]) != nil {
		t.Fatalf("a view of a forgotten organization was kept")
	}
	if n, size := gv.size(); n == 0 || size != n*len(view) {
		t.Fatalf("the other organization's views: %d, %d bytes", n, size)
	}
}
