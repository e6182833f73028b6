package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// liveTx is a live projector batch's transaction on a connection of its own, begun in
// the round trip that locks the checkpoint and reads the audit chain heads (begin)
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
	// trips counts the round trips the transaction made (a test pins their number).
	trips int
	// late is set while the transaction of a batch that carries on from the one
	// before it (carried_batch.go) has not begun: it begins in the round trip of the
	// first statements sent on it (beginWith), or in one of its own before a
	// statement that cannot carry it (started).
	late bool
	// scratch lends the batch's statements their buffers (wire_buffer.go).
	scratch *wireScratch
}

// open says whether the connection is in a transaction, as its server last said: not
// once the batch's own COMMIT has run, nor before BEGIN.
func (tx *liveTx) open() bool { return tx.conn.PgConn().TxStatus() != 'I' }

var _ pgx.Tx = (*liveTx)(nil)

// Begin would start a nested transaction (a savepoint); no batch needs one.
func (tx *liveTx) Begin(context.Context) (pgx.Tx, error) {
	return nil, errors.New("projections: no savepoints in a live batch")
}

// Commit commits, unless the batch's last writes did.
func (tx *liveTx) Commit(ctx context.Context) error {
	if !tx.open() {
		return nil
	}
	if _, err := tx.Exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback rolls back what was not committed.
func (tx *liveTx) Rollback(ctx context.Context) error {
	if !tx.open() {
		return nil
	}
	_, err := tx.Exec(ctx, "ROLLBACK")
	return err
}

// LargeObjects is not used by the projector.
func (tx *liveTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Conn is the connection the transaction runs on.
func (tx *liveTx) Conn() *pgx.Conn { return tx.conn }

// CopyFrom, SendBatch, Prepare, Exec, Query and QueryRow run on the connection, in
// the transaction, which a batch's first statements begin if it begins late.
func (tx *liveTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := tx.started(ctx); err != nil {
		return 0, err
	}
	tx.trips++
	return tx.conn.CopyFrom(ctx, table, columns, src)
}

// SendBatch sends b; the transaction's late beginning goes first, in the same round
// trip when the connection has b's statements prepared. Its results come before b's:
// the batch's callers read b's through the callbacks queued with it (Close), never
// by position.
func (tx *liveTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if tx.late {
		var err error
		if b, err = tx.beginWith(ctx, b.QueuedQueries); err != nil {
			return failedBatch{err}
		}
	}
	tx.trips++
	sizeBatch(tx.conn.PgConn(), b, tx.scratch)
	return tx.conn.SendBatch(ctx, b)
}

func (tx *liveTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := tx.started(ctx); err != nil {
		return nil, err
	}
	tx.trips++
	return tx.conn.Prepare(ctx, name, sql)
}

func (tx *liveTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := tx.started(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	tx.trips++
	return tx.conn.Exec(ctx, sql, args...)
}

func (tx *liveTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := tx.started(ctx); err != nil {
		return nil, err
	}
	tx.trips++
	return tx.conn.Query(ctx, sql, args...)
}

func (tx *liveTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := tx.started(ctx); err != nil {
		return errRow{err}
	}
	tx.trips++
	return tx.conn.QueryRow(ctx, sql, args...)
}

// started begins a transaction that begins late before a statement that cannot carry
// its beginning (a read in the middle of a batch).
func (tx *liveTx) started(ctx context.Context) error {
	if !tx.late {
		return nil
	}
	return tx.beginAlone(ctx)
}

// beginAlone begins the transaction and scopes it to the read models' schema, in a
// round trip of its own.
func (tx *liveTx) beginAlone(ctx context.Context) error {
	tx.late = false
	tx.trips++
	if _, err := tx.conn.Exec(ctx, "BEGIN; "+setSearchPath); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return nil
}

// failedBatch is the results of a batch that was not sent.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return errRow(f) }
func (f failedBatch) Close() error                     { return f.err }
func (f failedBatch) Tx() pgx.Tx                       { return nil }

// inLiveTx runs fn in a live batch's transaction: open queues, after BEGIN and the
// search path, what the batch reads first (its locks), which runs in the same round
// trip; fn ends with the batch's last writes and its COMMIT (queueCommit). The
// transaction is rolled back if fn fails, and committed if fn did not.
func (p *Projector) inLiveTx(ctx context.Context, open func(*pgx.Batch), fn func(pgx.Tx) error) (err error) {
	conn, err := p.db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	tx := &liveTx{conn: conn.Conn(), scratch: &p.wire}
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
// reads, in one round trip when the connection has open's statements prepared
// (beginWith). With no reads to open with (a carried batch's), the transaction begins
// late, with the batch's first statements.
func (tx *liveTx) begin(ctx context.Context, open func(*pgx.Batch)) error {
	if open == nil {
		tx.late = true
		return nil
	}
	reads := &pgx.Batch{}
	open(reads)
	b, err := tx.beginWith(ctx, reads.QueuedQueries)
	if err != nil {
		return err
	}
	return tx.SendBatch(ctx, b).Close()
}

// beginWith is the batch that begins the transaction, scopes it to the read models'
// schema and runs qs. A statement is prepared (parsed against the tables) before any
// of a round trip's statements run, which is before the search path names the schema:
// when the connection has qs prepared, the batch holds the beginning and qs, one round
// trip; when it does not yet (the first batches on it), the transaction begins in a
// round trip of its own and prepares them inside, for the batches after, and the batch
// holds qs alone.
func (tx *liveTx) beginWith(ctx context.Context, qs []*pgx.QueuedQuery) (*pgx.Batch, error) {
	tx.late = false
	sqlOf := func(q *pgx.QueuedQuery) string { return q.SQL }
	// Not counted: free when the connection has them.
	if prepareAll(ctx, tx.conn, qs, sqlOf) != nil {
		if err := tx.beginAlone(ctx); err != nil {
			return nil, err
		}
		if err := prepareAll(ctx, tx, qs, sqlOf); err != nil {
			return nil, err
		}
		return &pgx.Batch{QueuedQueries: qs}, nil
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(qs)+2)}
	b.Queue("BEGIN")
	b.Queue(setSearchPath)
	b.QueuedQueries = append(b.QueuedQueries, qs...)
	return b, nil
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
// the COMMIT, and sends them with the batch's last writes and chain heads. A carried
// batch's (carried not nil) also checks that the checkpoint and the chain heads are
// still what it applied on, and fails with errCarryMoved if not.
func (r *batchTx) queueCommit(last, fence uint64, carried *carry) error {
	r.queueLast(last, fence, carried)
	r.deferred.Queue("COMMIT")
	return r.sync()
}

// sendLast is queueCommit without the COMMIT, which the transaction's Commit sends.
func (r *batchTx) sendLast(last, fence uint64, carried *carry) error {
	r.queueLast(last, fence, carried)
	return r.sync()
}

// queueLast queues the batch's chain heads, its last rows and the checkpoint's advance.
func (r *batchTx) queueLast(last, fence uint64, carried *carry) {
	refused := func(err error) error {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "22012" {
			return err
		}
		if carried != nil {
			return fmt.Errorf("%w: checkpoint or chain head not where the batch to %d applied", errCarryMoved, last)
		}
		return fmt.Errorf("%w: checkpoint not advanced to %d at lease revision %d", ErrFenced, last, fence)
	}
	var was map[string]string
	if carried != nil {
		was = carried.heads
	}
	r.queueHeads(last, was, refused)
	r.queueRows()
	sql, args := advanceCheckpointSQL, []any{CheckpointName, int64(last), int64(fence)}
	if carried != nil {
		sql, args = advanceCarriedSQL, append(args, int64(carried.checkpoint))
	}
	r.deferred.Queue(sql, args...).QueryRow(func(row pgx.Row) error {
		var one int
		return refused(row.Scan(&one))
	})
}
