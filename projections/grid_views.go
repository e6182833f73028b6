package projections

import (
	"bytes"
	"cmp"
	"sync"
)

// gridViews keeps readers' renderings of grid rows (GridRow.KeepView), per index
// entry, within a budget of bytes. A page then copies the kept bytes of its rows
// instead of rendering them again. Keyed by the entry, a view can never outlive what
// it shows: a change of the secret is a new entry, which has no view, and the old
// one's view is never asked for again and ages out. Bounded, because a view is some
// 600 bytes (more than the entry itself): kept for every row of an organization of
// 100,000 secrets, views would take some 60 MB; within the budget, the rows that pages
// show often (first pages, recent searches) stay rendered.
type gridViews struct {
	// budget is the bytes all shards may keep together (defaultViewBudget when 0).
	budget int
	shards [viewShards]viewShard
}

// defaultViewBudget bounds the memory views take.
const defaultViewBudget = 16 << 20

// viewShards spreads the lock over entries: every row of every page takes one.
const viewShards = 16

type viewShard struct {
	mu    sync.Mutex
	views map[*nameEntry]keptView
	bytes int
	// turned counts the views not kept for want of room (see keep).
	turned int
}

// admitOneIn is how many views a full shard turns away for each one it keeps.
const admitOneIn = 8

// keptView is a view and the organization's index it was kept from: an index
// dropped (erased, or pushed out by others) drops its views, which would otherwise
// keep it reachable until they aged out.
type keptView struct {
	view []byte
	org  *orgNames
}

func (gv *gridViews) shard(e *nameEntry) *viewShard {
	return &gv.shards[e.shard%viewShards]
}

// get returns e's view, nil when none is kept.
func (gv *gridViews) get(e *nameEntry) []byte {
	s := gv.shard(e)
	s.mu.Lock()
	v := s.views[e].view
	s.mu.Unlock()
	return v
}

// keep keeps a copy of view for e (of organization on). A full shard keeps one view
// in admitOneIn, making room by dropping others: when pages show more rows than the
// budget holds (searches all over a large organization), a view kept for each row
// shown would drop one that was kept just as recently, so every such page would pay
// for a copy and leave 60 KB of garbage, and none would find more views kept. Rows
// that pages keep showing are still kept after a few pages.
func (gv *gridViews) keep(on *orgNames, e *nameEntry, view []byte) {
	limit := cmp.Or(gv.budget, defaultViewBudget) / viewShards
	if len(view) > limit {
		return
	}
	s := gv.shard(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Checked under the shard's lock: forget marks the organization before it clears
	// the shards, so a view is either refused here or cleared there.
	if on.forgotten.Load() {
		return
	}
	if s.views == nil {
		s.views = map[*nameEntry]keptView{}
	}
	if _, ok := s.views[e]; ok {
		return
	}
	if s.bytes+len(view) > limit {
		if s.turned++; s.turned%admitOneIn != 0 {
			return
		}
	}
	// Map order is as good as random here: whatever goes, a page renders it again.
	for other, kv := range s.views {
		if s.bytes+len(view) <= limit {
			break
		}
		delete(s.views, other)
		s.bytes -= len(kv.view)
	}
	s.views[e] = keptView{view: bytes.Clone(view), org: on}
	s.bytes += len(view)
}

// forget drops every view of organization on, and refuses those that pages still
// under way would keep (erased: nothing of it stays).
func (gv *gridViews) forget(on *orgNames) {
	on.forgotten.Store(true)
	for i := range gv.shards {
		s := &gv.shards[i]
		s.mu.Lock()
		for e, kv := range s.views {
			if kv.org == on {
				delete(s.views, e)
				s.bytes -= len(kv.view)
			}
		}
		s.mu.Unlock()
	}
}

// size is the number of views kept and their bytes.
func (gv *gridViews) size() (n, bytes int) {
	for i := range gv.shards {
		s := &gv.shards[i]
		s.mu.Lock()
		n, bytes = n+len(s.views), bytes+s.bytes
		s.mu.Unlock()
	}
	return n, bytes
}
