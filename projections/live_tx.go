package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// liveTx is a live projector batch's transaction on a connection of its own, begun in
// the round trip that locks the checkpoint and reads the audit chain heads (beginLive)
// and committed in the round trip of its last writes (queueCommit). A batch took four
// round trips before: BEGIN with the search path, the locks, the writes, COMMIT. Every
// write's answer and every reveal's waits for its batch, and on a busy machine each
// round trip is a wait for PostgreSQL's backend and then for this process to be
// scheduled again: two of them were about a third of a batch's time.
//
// It is a pgx.Tx over the connection, which the batch's writer uses as it used the
// transaction pgx begins (queries, batches, COPY).
type liveTx struct {
	conn *pgx.Conn
	// committed is set once the batch's COMMIT succeeded: Commit and Rollback then
	// have nothing left to do.
	committed bool
	// trips counts the round trips the transaction made (a test pins their number).
	trips int
}

var _ pgx.Tx = (*liveTx)(nil)

// Begin would start a nested transaction (a savepoint); no batch needs one.
func (tx *liveTx) Begin(context.Context) (pgx.Tx, error) {
	return nil, errors.New("projections: no savepoints in a live batch")
}

// Commit commits, unless the batch's last writes did.
func (tx *liveTx) Commit(ctx context.Context) error {
	if tx.committed {
		return nil
	}
	tx.trips++
	if _, err := tx.conn.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	tx.committed = true
	return nil
}

// Rollback rolls back what was not committed.
func (tx *liveTx) Rollback(ctx context.Context) error {
	if tx.committed {
		return nil
	}
	_, err := tx.conn.Exec(ctx, "ROLLBACK")
	return err
}

// LargeObjects is not used by the projector.
func (tx *liveTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Conn is the connection the transaction runs on.
func (tx *liveTx) Conn() *pgx.Conn { return tx.conn }

// CopyFrom, SendBatch, Prepare, Exec, Query and QueryRow run on the connection, in
// the transaction.
func (tx *liveTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	tx.trips++
	return tx.conn.CopyFrom(ctx, table, columns, src)
}

func (tx *liveTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	tx.trips++
	return tx.conn.SendBatch(ctx, b)
}

func (tx *liveTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	tx.trips++
	return tx.conn.Prepare(ctx, name, sql)
}

func (tx *liveTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tx.trips++
	return tx.conn.Exec(ctx, sql, args...)
}

func (tx *liveTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	tx.trips++
	return tx.conn.Query(ctx, sql, args...)
}

func (tx *liveTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	tx.trips++
	return tx.conn.QueryRow(ctx, sql, args...)
}

// inLiveTx runs fn in a live batch's transaction: open queues, after BEGIN and the
// search path, what the batch reads first (its locks), which runs in the same round
// trip; fn ends with the batch's last writes and its COMMIT (queueCommit). The
// transaction is rolled back if fn fails, and committed if fn did not.
func (p *Projector) inLiveTx(ctx context.Context, open func(*pgx.Batch), fn func(pgx.Tx) error) (err error) {
	conn, err := p.db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	tx := &liveTx{conn: conn.Conn()}
	defer func() {
		if err != nil {
			// A connection left in a transaction (the rollback failed too) is closed
			// by the pool, not handed out again.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
		conn.Release()
	}()
	if err := tx.begin(ctx, open); err != nil {
		return fmt.Errorf("begin batch: %w", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// begin begins the transaction, scopes it to the read models' schema and runs open's
// reads, in one round trip when the connection has open's statements prepared. A
// statement is prepared (parsed against the tables) before any of a round trip's
// statements run, which is before the search path names the schema: on a connection
// that does not have them yet (the first batches on it), the transaction begins in a
// round trip of its own and prepares them for the batches after.
func (tx *liveTx) begin(ctx context.Context, open func(*pgx.Batch)) error {
	reads := &pgx.Batch{}
	open(reads)
	prepared := true
	for _, q := range reads.QueuedQueries {
		// Free when the connection has the statement (named by its text, which is how
		// a batch finds it); otherwise it fails, outside any transaction.
		if _, err := tx.conn.Prepare(ctx, q.SQL, q.SQL); err != nil {
			prepared = false
			break
		}
	}
	if !prepared {
		tx.trips += 2
		if _, err := tx.conn.Exec(ctx, "BEGIN; "+setSearchPath); err != nil {
			return err
		}
		for _, q := range reads.QueuedQueries {
			if _, err := tx.conn.Prepare(ctx, q.SQL, q.SQL); err != nil {
				return fmt.Errorf("prepare: %w", err)
			}
		}
		return tx.conn.SendBatch(ctx, reads).Close()
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(setSearchPath)
	b.QueuedQueries = append(b.QueuedQueries, reads.QueuedQueries...)
	tx.trips++
	return tx.conn.SendBatch(ctx, b).Close()
}

// advanceCheckpointSQL advances the checkpoint if the projector's lease revision is
// still the read models' fence, and fails (division by zero) if not: with the COMMIT
// in the same round trip, a fenced batch must stop at an error, where an UPDATE of no
// row would have let the COMMIT through.
const advanceCheckpointSQL = `WITH advanced AS (
		UPDATE projection_checkpoints SET seq = $2 WHERE name = $1 AND fence <= $3 RETURNING 1)
	SELECT 1 / count(*)::int FROM advanced`

// queueCommit queues, after the batch's writes, the checkpoint's advance to last at
// lease revision fence (ErrFenced if a newer projector claimed the read models) and
// the COMMIT, and sends them with the batch's last writes and chain heads.
func (r *batchTx) queueCommit(last, fence uint64) error {
	r.queueHeads(last)
	r.queueRows()
	r.deferred.Queue(advanceCheckpointSQL, CheckpointName, int64(last), int64(fence)).QueryRow(func(row pgx.Row) error {
		var one int
		err := row.Scan(&one)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "22012" {
			return fmt.Errorf("%w: checkpoint not advanced to %d at lease revision %d", ErrFenced, last, fence)
		}
		return err
	})
	r.deferred.Queue("COMMIT")
	if err := r.sync(); err != nil {
		return err
	}
	if tx, ok := r.tx.(*liveTx); ok {
		tx.committed = true
	}
	return nil
}
