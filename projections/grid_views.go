package projections

import (
	"bytes"
	"cmp"
	"sync"
)

// gridViews keeps readers' renderings of grid rows (GridRow.KeepView), one per index
// entry, within a budget of bytes. A page then copies the kept bytes of its rows
// instead of rendering them again. Kept on the entry, a view can never outlive what
// it shows: a change of the secret is a new entry, which has no view, and the old
// one's view is never asked for again and ages out. Bounded, because a view is some
// 600 bytes (more than the entry itself): kept for every row of an organization of
// 100,000 secrets, views would take some 60 MB; within the budget, the rows that pages
// show often (first pages, recent searches) stay rendered.
//
// A page reads its rows' views without a lock (an atomic load per row; a map of views
// behind locks was an eighth of a search page's CPU); keeping and dropping views, and
// the queue of entries that hold one (oldest first), go under mu.
type gridViews struct {
	// budget is the bytes all views may take together (defaultViewBudget when 0).
	budget int

	mu sync.Mutex
	// queue holds the entries given a view, oldest first, from head on; an entry
	// whose view was dropped since (see forget) is skipped.
	queue []*nameEntry
	head  int
	bytes int
	// turned counts the views not kept for want of room (see keep).
	turned int
}

// defaultViewBudget bounds the memory views take.
const defaultViewBudget = 16 << 20

// admitOneIn is how many views a full budget turns away for each one it keeps.
const admitOneIn = 8

// keptView is a view and the organization's index it was kept from: an index
// dropped (erased, or pushed out by others) drops its views, which would otherwise
// keep its entries reachable until they aged out.
type keptView struct {
	view []byte
	org  *orgNames
}

// get returns e's view, nil when none is kept.
func (gv *gridViews) get(e *nameEntry) []byte {
	if kv := e.view.Load(); kv != nil {
		return kv.view
	}
	return nil
}

// keep keeps a copy of view for e (of organization on). A full budget keeps one view
// in admitOneIn, making room by dropping the oldest: when pages show more rows than
// the budget holds (searches all over a large organization), a view kept for each
// row shown would drop one that was kept just as recently, so every such page would
// pay for a copy and leave 60 KB of garbage, and none would find more views kept.
// Rows that pages keep showing are still kept after a few pages.
func (gv *gridViews) keep(on *orgNames, e *nameEntry, view []byte) {
	budget := cmp.Or(gv.budget, defaultViewBudget)
	if len(view) > budget/64 {
		return
	}
	gv.mu.Lock()
	defer gv.mu.Unlock()
	// Checked under mu: forget marks the organization before it drops views, so a
	// view is either refused here or dropped there.
	if on.forgotten.Load() || e.view.Load() != nil {
		return
	}
	if gv.bytes+len(view) > budget {
		if gv.turned++; gv.turned%admitOneIn != 0 {
			return
		}
	}
	for gv.bytes+len(view) > budget && gv.head < len(gv.queue) {
		if kv := gv.queue[gv.head].view.Swap(nil); kv != nil {
			gv.bytes -= len(kv.view)
		}
		gv.queue[gv.head] = nil
		gv.head++
	}
	if gv.head > len(gv.queue)/2 {
		// Reuse the front half of the queue rather than let it grow.
		gv.queue = append(gv.queue[:0], gv.queue[gv.head:]...)
		gv.head = 0
	}
	e.view.Store(&keptView{view: bytes.Clone(view), org: on})
	gv.queue = append(gv.queue, e)
	gv.bytes += len(view)
}

// forget drops every view of organization on, and refuses those that pages still
// under way would keep (erased: nothing of it stays).
func (gv *gridViews) forget(on *orgNames) {
	on.forgotten.Store(true)
	gv.mu.Lock()
	defer gv.mu.Unlock()
	live := gv.queue[:0]
	for _, e := range gv.queue[gv.head:] {
		kv := e.view.Load()
		switch {
		case kv == nil:
		case kv.org == on:
			e.view.Store(nil)
			gv.bytes -= len(kv.view)
		default:
			live = append(live, e)
		}
	}
	clear(gv.queue[len(live):])
	gv.queue, gv.head = live, 0
}

// size is the number of views kept and their bytes.
func (gv *gridViews) size() (n, bytes int) {
	gv.mu.Lock()
	defer gv.mu.Unlock()
	for _, e := range gv.queue[gv.head:] {
		if e.view.Load() != nil {
			n++
		}
	}
	return n, gv.bytes
}
