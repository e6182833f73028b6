package projections

import (
	"bytes"
	"cmp"
	"sync"
	"sync/atomic"
)

// gridViews keeps readers' renderings of grid rows (GridRow.KeepView), one per index
// entry, within a budget of bytes. A page then copies the kept bytes of its rows
// instead of rendering them again. A view is kept in its key's slot with the stamp of
// the entry it renders, so it can never be shown for another: a change of the secret
// puts a new entry (a new stamp) and drops the old one's view, and a view that a page
// of the old entry keeps after the change is not taken for the new one's. Bounded,
// because a view is some 600 bytes (more than the entry itself): kept for every row of
// an organization of 100,000 secrets, views would take some 60 MB; within the budget,
// the rows that pages in name order show again and again (first pages) stay rendered;
// q= pages neither read nor keep views (see GridRow.View).
//
// A page reads its rows' views without a lock (an atomic load per row; a map of views
// behind locks was an eighth of a search page's CPU); keeping and dropping views, and
// the queue of views kept (oldest first), go under mu.
type gridViews struct {
	// budget is the bytes all views may take together (defaultViewBudget when 0).
	budget int

	mu sync.Mutex
	// queue holds the views kept, oldest first, from head on, each with its slot; one
	// whose slot holds another view since (dropped, replaced) is skipped.
	queue []queuedView
	head  int
	// bytes counts the views the queue holds, stale ones included: a view dropped or
	// replaced stays reachable from its place in the queue until the queue lets go of
	// it, and the budget is the memory views take, not only the ones pages can find.
	// stale counts those of them no slot holds any more; past staleShare of the
	// budget, the queue is swept of them (sweep).
	bytes int
	stale int
	// turned counts the views offered while the budget was full (see keep); full is
	// set when a view found the budget full, cleared when views are dropped: while it
	// is set, keep turns views away without taking mu. Rows rendered for a page were
	// offered one by one under mu, seven in eight only to be turned away: with the
	// rendering itself cheaper, keeping was an eighth of a q= page's CPU at 100,000
	// secrets.
	turned atomic.Uint64
	full   atomic.Bool
}

// queuedView is a view kept and the slot that held it when it was kept.
type queuedView struct {
	slot *atomic.Pointer[keptView]
	kv   *keptView
}

// defaultViewBudget bounds the memory views take: some 7,000 rows, the first pages
// of several organizations' grids with their filters. It was 16 MB, which reads of
// single secrets all over a large organization filled with rows read once (at
// 100,000 secrets some 25 MB of the live heap with the views' headers and queue),
// while the pages shown again and again need a few hundred rows each.
const defaultViewBudget = 4 << 20

// admitOneIn is how many views a full budget turns away for each one it keeps.
const admitOneIn = 8

// keptView is a view, the stamp of the entry it renders and the organization's index
// it was kept from. A slot is its key's for as long as the key is the secret's, so the
// stamp tells a view of the entry a page holds from one of the entry it replaced (a
// page that read the old entry may keep its view after the change). An index dropped
// (erased, or pushed out by others) drops its views, which would otherwise keep its
// entries reachable until they aged out.
type keptView struct {
	view  []byte
	stamp uint32
	org   *orgNames
}

// get returns the view kept in slot for the entry of the given stamp, nil when none is.
func (gv *gridViews) get(slot *atomic.Pointer[keptView], stamp uint32) []byte {
	if kv := slot.Load(); kv != nil && kv.stamp == stamp {
		return kv.view
	}
	return nil
}

// keep keeps a copy of view in slot for the entry of the given stamp (of organization
// on). A full budget keeps one view in admitOneIn, making room by dropping the oldest:
// when pages show more rows than the budget holds (searches all over a large
// organization), a view kept for each row shown would drop one that was kept just as
// recently, so every such page would pay for a copy and leave 60 KB of garbage, and
// none would find more views kept. Rows that pages keep showing are still kept after
// a few pages.
func (gv *gridViews) keep(on *orgNames, slot *atomic.Pointer[keptView], stamp uint32, view []byte) {
	budget := cmp.Or(gv.budget, defaultViewBudget)
	if len(view) > budget/64 {
		return
	}
	if old := slot.Load(); old != nil && old.stamp >= stamp {
		return
	}
	admitted := false
	if gv.full.Load() {
		if gv.turned.Add(1)%admitOneIn != 0 {
			return
		}
		admitted = true
	}
	gv.mu.Lock()
	defer gv.mu.Unlock()
	// Checked under mu: forget marks the organization before it drops views, so a
	// view is either refused here or dropped there.
	if on.forgotten.Load() {
		return
	}
	// Stamps grow with every entry put: a view of a newer entry stays, and one of an
	// older entry (its row changed since) goes.
	old := slot.Load()
	if old != nil && old.stamp >= stamp {
		return
	}
	if gv.bytes+len(view) > budget && !admitted {
		gv.full.Store(true)
		if gv.turned.Add(1)%admitOneIn != 0 {
			return
		}
	}
	for gv.bytes+len(view) > budget && gv.head < len(gv.queue) {
		q := gv.queue[gv.head]
		if !q.slot.CompareAndSwap(q.kv, nil) {
			gv.stale -= len(q.kv.view)
		}
		gv.bytes -= len(q.kv.view)
		gv.queue[gv.head] = queuedView{}
		gv.head++
	}
	if gv.head > len(gv.queue)/2 {
		// Reuse the front half of the queue rather than let it grow.
		gv.queue = append(gv.queue[:0], gv.queue[gv.head:]...)
		gv.head = 0
	}
	kv := &keptView{view: bytes.Clone(view), stamp: stamp, org: on}
	if !slot.CompareAndSwap(old, kv) {
		return
	}
	gv.queue = append(gv.queue, queuedView{slot: slot, kv: kv})
	gv.bytes += len(view)
	if old != nil {
		gv.staled(len(old.view))
	}
}

// staleShare is the share of the budget stale views may take before the queue is
// swept of them.
const staleShare = 4

// staled counts n more bytes of stale views (gv.mu held), and sweeps the queue of
// them once they are more than a staleShare-th of the budget: a hot secret's view,
// dropped at every change, would otherwise leave each of its copies in the queue.
func (gv *gridViews) staled(n int) {
	gv.stale += n
	if gv.stale > cmp.Or(gv.budget, defaultViewBudget)/staleShare {
		gv.sweep(nil)
	}
}

// sweep keeps in the queue the views their slots still hold, less those of
// organization on (none when nil), whose slots it empties (gv.mu held).
func (gv *gridViews) sweep(on *orgNames) {
	live := gv.queue[:0]
	for _, q := range gv.queue[gv.head:] {
		switch kv := q.slot.Load(); {
		case kv != q.kv:
		case on != nil && kv.org == on:
			q.slot.Store(nil)
		default:
			live = append(live, q)
			continue
		}
		gv.bytes -= len(q.kv.view)
	}
	clear(gv.queue[len(live):])
	gv.queue, gv.head, gv.stale = live, 0, 0
	gv.full.Store(false)
}

// drop drops the view in slot, whichever it is (its entry changed or went; on.mu held).
func (gv *gridViews) drop(slot *atomic.Pointer[keptView]) {
	if gv == nil || slot.Load() == nil {
		return
	}
	gv.mu.Lock()
	defer gv.mu.Unlock()
	if kv := slot.Swap(nil); kv != nil {
		gv.staled(len(kv.view))
	}
}

// forget drops every view of organization on, and refuses those that pages still
// under way would keep (erased: nothing of it stays).
func (gv *gridViews) forget(on *orgNames) {
	on.forgotten.Store(true)
	gv.dropOrg(on)
}

// dropOrg drops every view of organization on: forgotten, or its keys renumbered
// (compacted, loaded again). A page under way may still keep a view under an old key,
// where no page looks again; it ages out.
func (gv *gridViews) dropOrg(on *orgNames) {
	if gv == nil {
		return
	}
	gv.mu.Lock()
	defer gv.mu.Unlock()
	gv.sweep(on)
}

// size is the number of views kept (that pages find) and the bytes of all the views
// the queue holds, stale ones included.
func (gv *gridViews) size() (n, bytes int) {
	gv.mu.Lock()
	defer gv.mu.Unlock()
	for _, q := range gv.queue[gv.head:] {
		if q.slot.Load() == q.kv {
			n++
		}
	}
	return n, gv.bytes
}
