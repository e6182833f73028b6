package webhooks

import (
	"sync"
	"time"
)

// index holds the engine's pending deliveries, grouped by (webhook, secret): a
// group's head (its first pending notice) is the only one that may be sent, and only
// while none of the group is in flight. Finding what is due costs one step per group,
// not per delivery, and a group's head is worked out again only when it changed.
type index struct {
	mu      sync.Mutex
	pending map[string]entry
	groups  map[groupKey]*group
	// busy holds the deliveries in flight and those whose outcome was written at a
	// revision the watch has not shown yet: neither may start again until it has.
	busy map[string]*busyState
	// wake is signalled (without blocking) when something may have become due.
	wake chan struct{}
}

type entry struct {
	key string
	rev uint64
	d   *Delivery
}

type groupKey struct{ webhook, secret string }

type group struct {
	entries map[string]entry
	// head is the first entry, nil when it must be worked out again.
	head *entry
	// busy counts the group's deliveries in flight or awaiting the watch.
	busy int
}

// busyState is a delivery in flight: want is the revision its outcome was written at
// (0 while in flight), seen the newest revision the watch showed since it started.
type busyState struct {
	g          groupKey
	want, seen uint64
}

func newIndex() *index {
	return &index{pending: map[string]entry{}, groups: map[groupKey]*group{}, busy: map[string]*busyState{}, wake: make(chan struct{}, 1)}
}

func keyOf(d *Delivery) groupKey { return groupKey{d.WebhookID, d.SecretID} }

func (x *index) nudge() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// apply records a delivery as the bucket holds it at revision rev.
func (x *index) apply(key string, rev uint64, d *Delivery) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if b, ok := x.busy[key]; ok {
		b.seen = max(b.seen, rev)
		if b.want != 0 && rev >= b.want {
			x.unbusy(key, b)
		}
	}
	x.remove(key)
	if d.Status == StatusPending {
		e := entry{key: key, rev: rev, d: d}
		x.pending[key] = e
		g := x.groups[keyOf(d)]
		if g == nil {
			g = &group{entries: map[string]entry{}}
			x.groups[keyOf(d)] = g
		}
		g.entries[key] = e
		if g.head != nil && d.before(g.head.d) {
			g.head = &e
		}
	}
	x.nudge()
}

// remove takes key out of the pending deliveries (caller holds mu).
func (x *index) remove(key string) {
	old, ok := x.pending[key]
	if !ok {
		return
	}
	delete(x.pending, key)
	gk := keyOf(old.d)
	g := x.groups[gk]
	if g == nil {
		return
	}
	delete(g.entries, key)
	if g.head != nil && g.head.key == key {
		g.head = nil
	}
	if len(g.entries) == 0 && g.busy == 0 {
		delete(x.groups, gk)
	}
}

func (x *index) unbusy(key string, b *busyState) {
	delete(x.busy, key)
	if g := x.groups[b.g]; g != nil {
		g.busy--
		if len(g.entries) == 0 && g.busy == 0 {
			delete(x.groups, b.g)
		}
	}
	x.nudge()
}

// dropWebhook forgets the pending deliveries of a removed webhook (the bucket's age
// limit removes them from NATS; none is sent any more).
func (x *index) dropWebhook(webhookID string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for key, e := range x.pending {
		if e.d.WebhookID == webhookID {
			x.remove(key)
		}
	}
}

// size is the number of pending deliveries.
func (x *index) size() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.pending)
}

// start marks a pending delivery in flight.
func (x *index) start(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.pending[key]
	if !ok {
		return
	}
	gk := keyOf(e.d)
	x.busy[key] = &busyState{g: gk}
	x.groups[gk].busy++
}

// finish ends an attempt; rev is the revision its outcome was written at (0: none was,
// the stored state stands).
func (x *index) finish(key string, rev uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	b, ok := x.busy[key]
	if !ok {
		return
	}
	if rev == 0 || b.seen >= rev {
		x.unbusy(key, b)
		return
	}
	b.want = rev
}

// due is up to limit group heads that are due at now, of webhooks that sendable
// accepts, in no particular order.
func (x *index) due(now time.Time, limit int, sendable func(webhookID string) bool) []entry {
	if limit <= 0 {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []entry
	for gk, g := range x.groups {
		if g.busy > 0 || len(g.entries) == 0 {
			continue
		}
		if g.head == nil {
			for _, e := range g.entries {
				if g.head == nil || e.d.before(g.head.d) {
					e := e
					g.head = &e
				}
			}
		}
		h := *g.head
		if h.d.NextAttemptAt != nil && h.d.NextAttemptAt.After(now) {
			continue
		}
		if !sendable(gk.webhook) {
			continue
		}
		out = append(out, h)
		if len(out) == limit {
			break
		}
	}
	return out
}
