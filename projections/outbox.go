package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// The projector's change notices go through an outbox: a batch writes its notices,
// sealed, into change_outbox in its own transaction, and a loop beside the projector
// publishes them after the commit and deletes them once stored. The batch, which every
// write's answer waits for, used to publish them itself before committing: one synced
// message each, 9-13 ms for a batch of creates, in the path of every write. Now:
//
//   - never lost: a notice is in Postgres as soon as its batch is, and stays there until
//     the change stream has stored it; a crash between the commit and the publish leaves
//     it for the next projector (of this replica or another);
//   - in order, each once: one loop publishes the rows in (seq, part) order, each
//     message expecting the stream's last sequence to be the one before it (so a
//     failure anywhere stores nothing after it), and it starts from the stream's tail:
//     rows at or before the last notice stored were stored by an earlier run that died
//     before deleting them, and are deleted without being sent again (the message id
//     de-duplicates them besides);
//   - on the subjects DESIGN.md promises: keyledger.changes.<org>.<env>, one message
//     per notice, the same message as before.
//
// What changes is when: a notice is published shortly after its write is answered,
// not before. Nothing in the API promises otherwise (the SSE feed, webhooks and NATS
// subscribers follow the stream); an erasure waits for the outbox to be empty before it
// purges the organization's notices, so that none is published after the purge.

// changeStream is the change-notice stream as the projector uses it; changefeed.Changes
// is one.
type changeStream interface {
	// SealRun turns notices into the form the stream stores (their names sealed).
	SealRun(ctx context.Context, ns []wire.ChangeNotice) ([]changefeed.Stored, error)
	// Tail is the stream's last sequence and the position of its last notice.
	Tail(ctx context.Context) (uint64, changefeed.Position, error)
	// PublishStored stores notices in order after the stream's sequence after, and
	// says how many it stored and the stream's sequence after them.
	PublishStored(ctx context.Context, after uint64, notices []changefeed.Stored) (int, uint64, error)
}

// outboxPage bounds the notices one round of the publisher reads and sends.
const outboxPage = 500

// outboxRetry is how long the publisher waits after a failed round before it tries
// again, unless a new batch wakes it first.
const outboxRetry = 500 * time.Millisecond

// outboxPublishTimeout bounds one round's wait for the stream's acknowledgements.
const outboxPublishTimeout = 30 * time.Second

// outbox publishes the notices that committed batches left in change_outbox.
type outbox struct {
	db     *writer
	stream changeStream
	log    *slog.Logger
	// wake is signalled after every commit that wrote notices.
	wake chan struct{}

	// qmu guards the hand-off from the projector: queue holds the notices of the
	// batches committed since the last round took it, in order.
	qmu   sync.Mutex
	queue []changefeed.Stored

	// mu makes rounds take turns: the loop's and an erasure's drain. It guards the
	// fields below.
	mu sync.Mutex
	// fromTable says that the table may hold notices the queue does not: at the
	// start (an earlier projector's), after a failure, and while a backlog is read
	// page by page. Then a round reads the table, which holds every committed notice;
	// otherwise the queue, which spares Postgres a read per batch.
	fromTable bool
	// synced says that streamSeq and stored are the stream's, as this publisher
	// left it; false at the start and after any failure (then the tail is read again).
	synced    bool
	streamSeq uint64
	stored    changefeed.Position
	// removed is the position up to which this publisher deleted the outbox's rows,
	// and swept when it last deleted without a lower bound (see remove).
	removed changefeed.Position
	swept   time.Time
	// deleteRows deletes the rows that match a condition (deleteWhere; a test measures).
	deleteRows func(ctx context.Context, where string) error
}

func newOutbox(db *writer, stream changeStream, log *slog.Logger) *outbox {
	o := &outbox{db: db, stream: stream, log: log, wake: make(chan struct{}, 1), fromTable: true}
	o.deleteRows = o.deleteWhere
	return o
}

// committed hands the publisher the notices of a batch that has just committed, and
// wakes it.
func (o *outbox) committed(notices []changefeed.Stored) {
	if len(notices) == 0 {
		return
	}
	o.qmu.Lock()
	o.queue = append(o.queue, notices...)
	o.qmu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// outboxLastDrain bounds the last round of a publisher whose projector stops.
const outboxLastDrain = 2 * time.Second

// run publishes what the outbox holds, at start and whenever a batch commits, until
// ctx ends; then it publishes what is left once more, briefly, so that a projector
// that stops (a shutdown) leaves nothing behind. A failed round is retried after
// outboxRetry, or at once when the next batch commits.
func (o *outbox) run(ctx context.Context) {
	defer func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outboxLastDrain)
		defer cancel()
		if err := o.drain(lctx); err != nil {
			o.log.Warn("change notices left in the outbox for the next projector", "err", err)
		}
	}()
	failing := false
	for {
		err := o.drain(ctx)
		if ctx.Err() != nil {
			return
		}
		var retry <-chan time.Time
		switch {
		case err != nil:
			if !failing {
				o.log.Warn("change notices not published yet; retrying", "err", err)
			}
			failing = true
			retry = time.After(outboxRetry)
		case failing:
			o.log.Info("change notices published again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
			o.gather(ctx)
		case <-retry:
		}
	}
}

// outboxLinger is how long a round waits for more notices once the first arrives,
// and outboxFull how many make it go at once. The change stream syncs every message
// it stores on its own, so a round of single notices cost one sync each (a third of
// a create's syncs in round 9, beside its name reservation and its event); many go as one
// atomic batch, whose cost hardly grows with its size. Waiting a moment turns a busy
// projector's notices into a few batches. A notice reaches subscribers up to this
// much later; nothing in the API waits for it (see above).
const (
	outboxLinger = 100 * time.Millisecond
	outboxFull   = 200
)

// gather waits until outboxFull notices are queued, outboxLinger has passed, or ctx
// ends, whichever comes first.
func (o *outbox) gather(ctx context.Context) {
	linger := time.NewTimer(outboxLinger)
	defer linger.Stop()
	for o.queued() < outboxFull {
		select {
		case <-ctx.Done():
			return
		case <-linger.C:
			return
		case <-o.wake:
		}
	}
}

// queued is how many notices wait in the queue.
func (o *outbox) queued() int {
	o.qmu.Lock()
	defer o.qmu.Unlock()
	return len(o.queue)
}

// drain publishes every notice committed so far and deletes each from the outbox once
// the stream has stored it.
func (o *outbox) drain(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for {
		o.qmu.Lock()
		queued := o.queue
		o.queue = nil
		o.qmu.Unlock()
		rows := queued
		if o.fromTable {
			// Read after taking the queue: every notice queued was committed before
			// it was queued, so the table holds them too (and any queued later that
			// the table shows as well is skipped as stored by the next round).
			var err error
			if rows, err = o.pending(ctx); err != nil {
				return err
			}
		}
		if len(rows) == 0 {
			return nil
		}
		// The queue goes a page at a time, as the table does: the stream refuses an
		// atomic batch of more than 1,000 messages (nats-server's default), and a
		// refused batch is sent one synced message at a time: a backlog (a stall of a
		// moment behind a burst of writes) cost a sync per notice just when the
		// publisher was behind.
		for page := rows; len(page) > 0; {
			n := min(len(page), outboxPage)
			if err := o.publish(ctx, page[:n]); err != nil {
				o.synced, o.fromTable = false, true
				return err
			}
			page = page[n:]
		}
		if !o.fromTable {
			return nil
		}
		// A full page may have more behind it; the table is read again until a page
		// is not full, and from then on what the queue brings is all there is.
		o.fromTable = len(rows) == outboxPage
		if !o.fromTable {
			return nil
		}
	}
}

// publish sends rows (in the feed's order) after what the stream holds and deletes
// those it stored, and those an earlier publisher had stored already.
func (o *outbox) publish(ctx context.Context, rows []changefeed.Stored) error {
	if !o.synced {
		seq, last, err := o.stream.Tail(ctx)
		if err != nil {
			return err
		}
		o.streamSeq, o.stored, o.synced = seq, last, true
	}
	send := rows
	for len(send) > 0 && !send[0].Position().After(o.stored) {
		send = send[1:]
	}
	// Rows the stream holds already may lie below what this publisher deleted (an
	// earlier publisher's, or carried over by a rebuild's switch): they go without a
	// lower bound, else a page of them would be read again and again.
	sweep := len(send) < len(rows)
	done := o.stored
	var perr error
	if len(send) > 0 {
		pctx, cancel := context.WithTimeout(ctx, outboxPublishTimeout)
		n, seq, err := o.stream.PublishStored(pctx, o.streamSeq, send)
		cancel()
		if n > 0 {
			o.streamSeq, o.stored = seq, send[n-1].Position()
			done = o.stored
		}
		perr = err
	}
	// Whatever was stored leaves the outbox, even when a later notice failed: the
	// next round starts after it.
	if err := o.remove(ctx, done, sweep); err != nil {
		return errors.Join(perr, err)
	}
	return perr
}

// pending reads the first page of the outbox, in the feed's order.
func (o *outbox) pending(ctx context.Context) ([]changefeed.Stored, error) {
	var out []changefeed.Stored
	err := pgx.BeginTxFunc(ctx, o.db.pool, pgx.TxOptions{BeginQuery: "BEGIN; " + setSearchPath}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT seq, part, org_id::text, env, data FROM change_outbox ORDER BY seq, part LIMIT $1`, outboxPage)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (changefeed.Stored, error) {
			var s changefeed.Stored
			var seq int64
			err := row.Scan(&seq, &s.Part, &s.OrgID, &s.Env, &s.Data)
			s.Seq = uint64(seq)
			return s, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read change outbox: %w", err)
	}
	return out, nil
}

// outboxSweep is how often remove deletes without a lower bound.
const outboxSweep = time.Minute

// remove deletes the notices up to position upTo (stored on the stream), on the live
// read models (the pointer's schema, which a rebuild's switch moves, carrying the
// outbox's rows over), in one round trip: the statements of one simple query run in
// one transaction, which the search path is set for. Its commit does not wait for the
// WAL's flush: a deletion lost in a crash leaves rows that the stream's tail shows as
// stored, which the next publisher deletes without sending them again.
//
// The deletion starts after what this publisher deleted before. The table is a queue:
// every row is inserted once and deleted soon after, and until a vacuum comes by (a
// minute on autovacuum's defaults, never where it is off) its index and heap keep the
// deleted rows, which a deletion "up to here" visited all over again every round: 12-20
// ms a round after 150,000 notices, against 0.06 ms from a lower bound (the planner's
// bitmap scan neither skips nor marks the index's dead entries). Without a bound are
// the first deletion (an earlier publisher's rows, one lost in a crash) and one a
// minute: a rebuild's switch may carry rows over that this publisher had already
// deleted from the old schema. sweep asks for a deletion without a bound.
func (o *outbox) remove(ctx context.Context, upTo changefeed.Position, sweep bool) error {
	if upTo == (changefeed.Position{}) {
		return nil
	}
	where := `(seq, part) <= (` + strconv.FormatUint(upTo.Seq, 10) + `, ` + strconv.Itoa(upTo.Part) + `)`
	sweep = sweep || o.removed == (changefeed.Position{}) || time.Since(o.swept) >= outboxSweep
	if !sweep {
		if !upTo.After(o.removed) {
			return nil
		}
		where = `(seq, part) > (` + strconv.FormatUint(o.removed.Seq, 10) + `, ` + strconv.Itoa(o.removed.Part) + `) AND ` + where
	}
	if err := o.deleteRows(ctx, where); err != nil {
		return err
	}
	o.removed = upTo
	if sweep {
		o.swept = time.Now()
	}
	return nil
}

// deleteWhere deletes the outbox's rows that match where.
func (o *outbox) deleteWhere(ctx context.Context, where string) error {
	sql := `SET LOCAL synchronous_commit = off; ` + setSearchPath + `; DELETE FROM change_outbox WHERE ` + where
	if _, err := o.db.pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("delete published changes: %w", err)
	}
	return nil
}

// stageNotices queues a batch's notices for the outbox, in the batch's transaction:
// sealed, in one statement, sent with the batch's other writes; it returns them for
// the publisher, which gets them once the batch has committed. Notices of an organization erased in this batch (or
// before) are left out: the erasure purged its notices from the stream, and these
// would come after the purge.
func (p *Projector) stageNotices(ctx context.Context, notes *notices, res *batchTx) ([]changefeed.Stored, error) {
	if notes == nil || len(notes.list) == 0 {
		return nil, nil
	}
	if err := notes.resolveNames(res); err != nil {
		return nil, err
	}
	kept := notes.list
	if len(p.erased) > 0 {
		kept = slices.DeleteFunc(slices.Clone(kept), func(n wire.ChangeNotice) bool {
			_, erased := p.erased[n.OrgID]
			return erased
		})
	}
	if len(kept) == 0 {
		return nil, nil
	}
	staged, err := p.changes.SealRun(ctx, kept)
	if err != nil {
		return nil, fmt.Errorf("change notice: %w", err)
	}
	seqs, parts, orgs := make([]int64, len(staged)), make([]int32, len(staged)), make([]string, len(staged))
	envs, datas := make([]string, len(staged)), make([][]byte, len(staged))
	for i, s := range staged {
		seqs[i], parts[i], orgs[i], envs[i], datas[i] = int64(s.Seq), int32(s.Part), s.OrgID, s.Env, s.Data
	}
	// The checkpoint, advanced in this transaction, lets no event be applied twice,
	// so no notice comes twice either; should one ever (rows a rebuild's switch carried
	// over), the first copy stands rather than the projection stalling on it. The
	// organization ids travel as text[] (see revealSnapshotSQL).
	res.exec(`INSERT INTO change_outbox (seq, part, org_id, env, data)
		SELECT seq, part, org_id::uuid, env, data
		FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::text[], $5::bytea[]) AS u(seq, part, org_id, env, data)
		ON CONFLICT (seq, part) DO NOTHING`, seqs, parts, orgs, envs, datas)
	return staged, nil
}

// erases tells whether a batch holds an organization's erasure record.
func erases(batch []eventstore.Delivery) bool {
	for _, d := range batch {
		for _, r := range d.Records {
			if _, ok := r.Event.(domain.OrganizationErased); ok {
				return true
			}
		}
	}
	return false
}
