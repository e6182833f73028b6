package projections

import "context"

// RevealReads is how many statements reveal snapshot reads have run.
func (db *Secrets) RevealReads() int64 { return db.reveals.reads.Load() }

// HoldRevealReads makes the reveal snapshot reads of orgID queue as if a read were
// under way, until release starts the reads for them.
func (db *Secrets) HoldRevealReads(orgID string) (release func()) {
	g := &db.reveals
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.orgs == nil {
		g.orgs = map[string]*revealQueue{}
	}
	q := &revealQueue{}
	g.orgs[orgID] = q
	return func() { go g.run(context.Background(), db.store, orgID, q) }
}

// QueuedRevealReads is how many reveal snapshot reads of orgID wait.
func (db *Secrets) QueuedRevealReads(orgID string) int {
	g := &db.reveals
	g.mu.Lock()
	defer g.mu.Unlock()
	if q := g.orgs[orgID]; q != nil {
		return len(q.asks)
	}
	return 0
}
