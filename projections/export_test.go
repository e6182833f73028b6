package projections

import (
	"context"
	"strings"

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

// WriteStatements is how many statements projector batches sent in their pipelines
// of writes.
func (rm *ReadModels) WriteStatements() int64 { return rm.writer.statements.Load() }

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

// RevealSnapshotSQL and SecretSnapshotSQL are the snapshot reads, for a test that
// reads their plans.
const (
	RevealSnapshotSQL = revealSnapshotSQL
	SecretSnapshotSQL = secretSnapshotSQL
)

// ExplainScoped is the plan of sql with args as the read models' queries run it: in
// orgID's scope, as the reader role, under row-level security.
func (db *Secrets) ExplainScoped(ctx context.Context, orgID, sql string, args ...any) (string, error) {
	var plan strings.Builder
	err := db.scopedQueries(ctx, orgID, "", scopedRead{sql: "EXPLAIN " + sql, args: args, read: func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan.WriteString(line + "\n")
		}
		return rows.Err()
	}})
	return plan.String(), err
}
