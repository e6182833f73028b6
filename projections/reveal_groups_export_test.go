package projections

import "context"

// RevealReads is how many statements reveal snapshot reads have run.
func (db *Secrets) RevealReads() int64 { return db.reveals.reads.Load() }

// HoldRevealReads makes the reveal snapshot reads of orgID queue as if a read were
// under way, until release starts the reads for them.
func (db *Secrets) HoldRevealReads(orgID string) (release func()) {
	return db.reveals.hold(db.store, orgID)
}

// QueuedRevealReads is how many reveal snapshot reads of orgID wait.
func (db *Secrets) QueuedRevealReads(orgID string) int { return db.reveals.groups.Queued(orgID) }

// SecretSnapshotReads is how many statements secret snapshot reads have run.
func (db *Secrets) SecretSnapshotReads() int64 { return db.snapshots.reads.Load() }

// HoldSecretSnapshotReads makes the secret snapshot reads of orgID queue as if a read
// were under way, until release starts the reads for them.
func (db *Secrets) HoldSecretSnapshotReads(orgID string) (release func()) {
	return db.snapshots.hold(db.store, orgID)
}

// QueuedSecretSnapshotReads is how many secret snapshot reads of orgID wait.
func (db *Secrets) QueuedSecretSnapshotReads(orgID string) int {
	return db.snapshots.groups.Queued(orgID)
}

// hold makes the reads of orgID queue as if a read were under way, until release
// starts the reads for them.
func (g *sharedReads[A]) hold(db *store, orgID string) (release func()) {
	return g.groups.Hold(orgID, g.max, g.reader(context.Background(), db, orgID))
}
