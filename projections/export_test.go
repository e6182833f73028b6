package projections

// ChangedRowsSQL is the name index's query for the rows changed since a checkpoint, for
// a test that reads its plan.
const ChangedRowsSQL = changedRowsSQL

// CheckpointReads is how many times this process read the checkpoint for reads served
// from the name index.
func (db *Secrets) CheckpointReads() int64 { return db.fresh.rounds.Load() }

// IndexedOrgs is how many organizations the name index holds.
func (db *Secrets) IndexedOrgs() int {
	db.names.mu.Lock()
	defer db.names.mu.Unlock()
	return len(db.names.orgs)
}

// LimitIndexedOrgs bounds the organizations the name index holds.
func (db *Secrets) LimitIndexedOrgs(n int) {
	db.names.mu.Lock()
	defer db.names.mu.Unlock()
	db.names.max = n
}

// ValueVersionReads is how many round trips projector batches made for the value
// versions their change notices name as replaced.
func (rm *ReadModels) ValueVersionReads() int64 { return rm.writer.valueReads.Load() }

// SecretNameReads is how many secret names projector batches (live and rebuilds) read
// from the read models.
func (rm *ReadModels) SecretNameReads() int64 { return rm.writer.nameReads.Load() }

// SetRebuildBatch makes rebuilds apply at most n events per transaction.
func (rm *ReadModels) SetRebuildBatch(n int) { rm.writer.rebuildBatch = n }
