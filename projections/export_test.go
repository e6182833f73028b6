package projections

// ChangedRowsSQL is the name index's query for the rows changed since a checkpoint, for
// a test that reads its plan.
const ChangedRowsSQL = changedRowsSQL

// CheckpointReads is how many times this process read the checkpoint for reads served
// from the name index.
func (db *Secrets) CheckpointReads() int64 { return db.fresh.rounds.Load() }
