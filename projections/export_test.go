package projections

import (
	"context"

	"github.com/jackc/pgx/v5"
)

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

// NamesAtCheckpoint runs the name index's sync for orgID as a reader whose snapshot is
// at checkpoint seq would (the rest of the transaction is today's).
func (db *Secrets) NamesAtCheckpoint(ctx context.Context, orgID string, seq uint64) (exact bool, err error) {
	err = db.inOrgSnapshot(ctx, orgID, func(tx pgx.Tx) error {
		var schema string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return err
		}
		on := db.names.org(orgID)
		on.mu.Lock()
		defer on.mu.Unlock()
		if err := db.syncNames(ctx, tx, orgID, on, schema, seq); err != nil {
			return err
		}
		exact = on.seq == seq
		return nil
	})
	return exact, err
}

// ErrStaleSnapshot is errStaleSnapshot, for tests.
var ErrStaleSnapshot = errStaleSnapshot
