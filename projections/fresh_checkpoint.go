package projections

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// freshCheckpoints answers "which checkpoint do the read models have now?" for reads
// served from this process's memory (the grid's index and the access it caches). Such a
// read must show every command acknowledged before it arrived, on any replica: a
// command is answered once the read models' checkpoint covers it, so a checkpoint read
// from Postgres after the request arrived is one the read must reach. Reading it per
// request would cost a round trip per read; instead every request that arrives while a
// read is under way joins the next one, which starts when that read ends — after each
// of them arrived — and one read answers them all. Under load a read answers a round's
// worth of requests; alone, a request waits for one round trip, as it did before.
type freshCheckpoints struct {
	// read reads the checkpoint; schema is the one the last read found (a hint).
	read func(ctx context.Context, schema string) (seq uint64, found string, err error)
	// schema is the last read's, handed to the next: only the goroutine that reads
	// uses it, one at a time (running, under mu, orders them).
	schema string

	mu      sync.Mutex
	running bool
	next    *checkpointRound
	// rounds counts the reads made, so that a test can see them shared.
	rounds atomic.Int64
}

type checkpointRound struct {
	done   chan struct{}
	seq    uint64
	schema string
	err    error
}

// checkpointReadTimeout bounds one shared read: it runs for every request waiting on
// it, so no single request's context may end it.
const checkpointReadTimeout = 5 * time.Second

// current returns a checkpoint (and the schema holding the read models) read after the
// call began.
func (f *freshCheckpoints) current(ctx context.Context) (uint64, string, error) {
	f.mu.Lock()
	r := f.next
	if r == nil {
		r = &checkpointRound{done: make(chan struct{})}
		f.next = r
	}
	if !f.running {
		f.running = true
		go f.run(context.WithoutCancel(ctx))
	}
	f.mu.Unlock()
	select {
	case <-r.done:
		return r.seq, r.schema, r.err
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
}

// run reads for the waiting round, then for the one that gathered meanwhile, until no
// request waits.
func (f *freshCheckpoints) run(ctx context.Context) {
	for {
		f.mu.Lock()
		r := f.next
		f.next = nil
		if r == nil {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		f.rounds.Add(1)
		rctx, cancel := context.WithTimeout(ctx, checkpointReadTimeout)
		r.seq, r.schema, r.err = f.read(rctx, f.schema)
		r.err = readErr(r.err)
		cancel()
		if r.err == nil {
			f.schema = r.schema
		}
		close(r.done)
	}
}

// readCheckpoint reads the checkpoint and the schema that holds the read models. Given
// the schema the last read found, it is one statement, outside any transaction: the
// pointer to the live schema and that schema's checkpoint, read together (one
// statement, one snapshot). If the pointer names another schema (a rebuild switched),
// or the schema is gone, it reads as a scoped transaction does, through the pointer.
// The per-request form of this read was a pipeline of six statements (BEGIN, three to
// scope, the read, COMMIT): a fifth of the server's CPU in the read-one phase.
func (db *store) readCheckpoint(ctx context.Context, known string) (uint64, string, error) {
	if known != "" {
		var live string
		var seq *int64
		err := db.pool.QueryRow(ctx, `SELECT (SELECT schema FROM `+pointerTable+` WHERE id = 1),
			(SELECT seq FROM `+pgx.Identifier{known, "projection_checkpoints"}.Sanitize()+` WHERE name = $1)`, CheckpointName).Scan(&live, &seq)
		if err == nil && live == known {
			if seq == nil {
				return 0, known, nil
			}
			return uint64(*seq), known, nil
		}
		if ctx.Err() != nil {
			return 0, "", ctx.Err()
		}
	}
	var seq int64
	var schema string
	err := db.scopedQueries(ctx, "", "", checkpointRead(&seq, &schema))
	return uint64(seq), schema, err
}

// checkpointRead is checkpointSQL as one read of a scoped pipeline, into seq and schema
// (0 when the read models have no checkpoint yet).
func checkpointRead(seq *int64, schema *string) scopedRead {
	return scopedRead{sql: checkpointSQL, args: []any{CheckpointName}, read: func(rows pgx.Rows) error {
		defer rows.Close()
		if rows.Next() {
			return rows.Scan(seq, schema)
		}
		return rows.Err()
	}}
}
