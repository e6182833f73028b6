package projections

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"
)

// Views stay within their budget however many rows pages render (a full budget
// still takes some new ones), a view kept is a copy, and an organization forgotten
// (erased) keeps none: neither those kept before nor those that pages still under way
// keep after.
func TestGridViewsStayWithinTheirBudget(t *testing.T) {
	t.Parallel()
	gv := &gridViews{budget: 64 << 10}
	acme, other := &orgNames{}, &orgNames{}
	var acmes []*atomic.Pointer[keptView]
	keptWhenFull := 0
	for i := range 2000 {
		e := new(atomic.Pointer[keptView])
		on := acme
		// Not every other one: a full budget keeps every admitOneIn-th view.
		if i%3 == 1 {
			on = other
		} else {
			acmes = append(acmes, e)
		}
		view := bytes.Repeat([]byte{byte('a' + i%26)}, 600)
		want := bytes.Clone(view)
		gv.keep(on, e, 1, view)
		view[0] = '!' // the caller's buffer, used again
		switch got := gv.get(e, 1); {
		case got == nil && i < 64:
			t.Fatalf("entry %d: not kept while there was room", i)
		case got != nil && !bytes.Equal(got, want):
			t.Fatalf("entry %d: view %q, want %q", i, got, want)
		case got != nil && i >= 1000:
			keptWhenFull++
		}
		if n, size := gv.size(); size > gv.budget || size != n*600 {
			t.Fatalf("after %d views: %d kept, %d bytes, budget %d", i+1, n, size, gv.budget)
		}
	}
	if keptWhenFull == 0 || keptWhenFull > 1000/2 {
		t.Fatalf("a full budget kept %d of 1000 new views", keptWhenFull)
	}
	gv.forget(acme)
	for _, e := range acmes {
		if gv.get(e, 1) != nil {
			t.Fatalf("a view of a forgotten organization stayed")
		}
	}
	gv.keep(acme, acmes[0], 1, []byte("view"))
	if gv.get(acmes[0], 1) != nil {
		t.Fatalf("a view of a forgotten organization was kept")
	}
	if n, size := gv.size(); n == 0 || size != n*600 {
		t.Fatalf("the other organization's views: %d, %d bytes", n, size)
	}
}

// An organization's index pushed out of the name index by another's drops its views:
// they would keep the whole index reachable.
func TestAnIndexPushedOutDropsItsViews(t *testing.T) {
	t.Parallel()
	ix := &nameIndex{max: 1}
	acme := ix.org("acme")
	e := new(atomic.Pointer[keptView])
	ix.views.keep(acme, e, 1, []byte("view"))
	if ix.views.get(e, 1) == nil {
		t.Fatal("no view kept")
	}
	ix.org("globex")
	if ix.lookup("acme") != nil || ix.views.get(e, 1) != nil {
		t.Fatal("the pushed-out organization's view stayed")
	}
}

// A full budget turns views away without taking the views' lock: a page offered
// each row it rendered under that lock, seven in eight only to be turned away, and
// with 32 readers of a large organization's searches that lock was an eighth of a
// page's CPU.
func TestAFullBudgetTurnsViewsAwayWithoutItsLock(t *testing.T) {
	t.Parallel()
	gv := &gridViews{budget: 64 << 10}
	on := &orgNames{}
	view := bytes.Repeat([]byte{'a'}, 600)
	for range 200 {
		gv.keep(on, new(atomic.Pointer[keptView]), 1, view)
	}
	gv.mu.Lock()
	gv.turned.Store(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range admitOneIn - 1 {
			gv.keep(on, new(atomic.Pointer[keptView]), 1, view)
		}
	}()
	var waited bool
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		waited = true
	}
	gv.mu.Unlock()
	<-done
	if waited {
		t.Fatal("views offered to a full budget waited for the views' lock")
	}
}

// heldBytes is the bytes of every view the queue holds, which is what they cost in
// memory whether a slot still holds them or not.
func (gv *gridViews) heldBytes() int {
	gv.mu.Lock()
	defer gv.mu.Unlock()
	n := 0
	for _, q := range gv.queue[gv.head:] {
		n += len(q.kv.view)
	}
	return n
}

// Views dropped (their secret changed) or replaced (a newer entry's view kept in the
// slot) count against the budget until the queue lets go of them. Secrets changed
// again and again, their rows shown after each change, left a copy of each view in
// the queue that the budget no longer counted: at 100,000 secrets a 4 MB budget held
// 7 MB.
func TestGridViewsDroppedOrReplacedStayWithinTheBudget(t *testing.T) {
	t.Parallel()
	gv := &gridViews{budget: 64 << 10}
	on := &orgNames{}
	slots := make([]atomic.Pointer[keptView], 50) // 30 KB of views: half the budget
	view := bytes.Repeat([]byte{'v'}, 600)
	for change := uint32(1); change <= 40; change++ {
		for i := range slots {
			if change%2 == 0 {
				gv.drop(&slots[i]) // the entry changed: put drops its view
			}
			gv.keep(on, &slots[i], change, view) // a page shows the new entry
			if held := gv.heldBytes(); held > gv.budget {
				t.Fatalf("change %d, slot %d: the queue holds %d bytes of views, budget %d", change, i, held, gv.budget)
			}
		}
		for i := range slots {
			if gv.get(&slots[i], change) == nil {
				t.Fatalf("change %d: slot %d's new view not kept with the budget half used", change, i)
			}
		}
		if n, size := gv.size(); n != len(slots) || size != gv.heldBytes() {
			t.Fatalf("change %d: %d views kept, %d bytes counted, %d held", change, n, size, gv.heldBytes())
		}
	}
}
