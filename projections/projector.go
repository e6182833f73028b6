package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/changefeed"
)

// errBehind means the follower is ahead of the checkpoint and must restart from it.
var errBehind = errors.New("projection checkpoint is behind the follower")

// ErrFenced means a projector holding a newer lease has claimed the read models: this
// one lost its lease (it was paused, say, past the lease's TTL) and must not commit.
var ErrFenced = errors.New("projections: fenced off by a newer projector lease")

// maxBatch bounds how many events one transaction applies.
const maxBatch = 500

// eventFollower is what the projector needs of the event store: its events, and
// Durable, which returns once the log is on disk up to a sequence read from it
// (eventstore.Store.Durable: the embedded server's group sync). A batch commits only
// after it, so that the read models never hold an event a power cut could take from
// the log.
type eventFollower interface {
	Follow(ctx context.Context, from uint64, buffer int) (<-chan eventstore.Delivery, error)
	Durable(ctx context.Context, seq uint64) error
}

// Projector follows the event log and keeps the read models up to date.
type Projector struct {
	db     *writer
	events eventFollower
	log    *slog.Logger
	// schema, when set, is where this projector writes instead of the live schema
	// (a rebuild); onApplied then receives its progress instead of the live waiters.
	schema    string
	onApplied func(seq uint64)
	// batch bounds the events of one transaction when set (a rebuild's); maxBatch
	// otherwise.
	batch int
	// changes seals the change notices of each batch, which the batch writes into the
	// outbox; outbox publishes them after the commit (outbox.go).
	changes changeStream
	outbox  *outbox
	// lease, when set, keeps this projector idle unless it holds it.
	lease      projectorLease
	renewEvery time.Duration
	pollEvery  time.Duration
	// fence is the lease revision of the current tenure (0 without a lease): the
	// checkpoint row keeps the highest fence that claimed it, and a batch commits
	// only while its fence is not below that. Only Run's goroutine uses it.
	fence uint64
	// failures counts the attempts in a row that failed without applying an event;
	// next is the first sequence the current attempt tries to apply; failingSince is
	// when the current run of failures began. Only runLoop's goroutine uses them.
	failures     int
	next         uint64
	failingSince time.Time
	// retry spaces the attempts of a run of failures; it starts again from its first
	// interval when a new run of failures begins. followingSince is when the current
	// attempt's follower started (zero until it has). Only runLoop's goroutine uses them.
	retry          *backoff.ExponentialBackOff
	followingSince time.Time
	// batches, when set, hears about the live projector's batches (metrics).
	batches BatchObserver
	// erased maps each erased organization to its erasure record's sequence: their
	// events are passed over (erasure.go). Only runLoop's goroutine uses it.
	erased map[string]uint64
	// heads, in a rebuild's projector, are the audit chain heads its batches left, by
	// organization, which the next batch may apply on (rebuild_pipeline.go). Only
	// runLoop's goroutine uses it.
	heads map[string]string
	// kept, in the live projector, holds the secret names and user emails its batches
	// have read, from one batch to the next (a rebuild's writer keeps its own). Only
	// runLoop's goroutine uses it.
	kept *keptNames
	// carry, in the live projector, is what its last commit left, which the next
	// batch may apply on without the locks (carried_batch.go); nil when a batch must
	// take them. Only runLoop's goroutine uses it.
	carry *carry
	// wire, in the live projector, lends its batches' statements the buffers pgx
	// encodes them into (wire_buffer.go). Only runLoop's goroutine uses it.
	wire wireScratch
}

// BatchObserver hears about the batches a projector applies, for metrics. It is
// declared here, where it is used, so that projections depends on no metrics library.
type BatchObserver interface {
	// BatchStarted says that the projector holds events not yet committed, the
	// oldest recorded at oldest: the age of the oldest event the read models lack.
	BatchStarted(oldest time.Time)
	// BatchApplied says that a batch was committed.
	BatchApplied(b AppliedBatch)
}

// AppliedBatch is one committed batch as a BatchObserver sees it.
type AppliedBatch struct {
	// Events counts the events applied (a message may hold several; events already
	// below the checkpoint are not counted).
	Events int
	// Took is the batch's transaction, from begin to commit.
	Took time.Duration
	// Oldest and Newest are the record times of its first and last event.
	Oldest, Newest time.Time
	// Start is how the batch began (carried_batch.go).
	Start BatchStart
}

// BatchStart is how a live batch began.
type BatchStart string

const (
	// StartLocked: under the locks of the checkpoint and the chain heads, in a round
	// trip of its own.
	StartLocked BatchStart = "locked"
	// StartCarried: on what the batch before it left, in the round trip of its writes.
	StartCarried BatchStart = "carried"
	// StartRefused: carried, refused because the read models moved, and applied again
	// under the locks.
	StartRefused BatchStart = "refused"
)

// ObserveBatches makes the projector report its batches to o. A rebuild's projector
// never reports: its batches say nothing about the live read models.
func (p *Projector) ObserveBatches(o BatchObserver) *Projector {
	p.batches = o
	return p
}

// NewProjector wires a projector that writes every read model of rm and reports its
// progress, stalls and lease through rm.Progress.
func NewProjector(rm *ReadModels, events eventFollower, logger *slog.Logger) *Projector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Projector{db: rm.writer, events: events, log: logger}
}

// Run applies events until ctx ends. After an error (Postgres or NATS unreachable) it
// starts again from the checkpoint, so it neither skips nor applies an event twice.
// Without a lease it returns ErrFenced (wrapped) if a leased projector has claimed the
// read models it writes.
func (p *Projector) Run(ctx context.Context) error {
	// The outbox's publisher runs as long as the projector, lease or no lease: it
	// publishes what this projector's batches commit (it is idle while the projector
	// stands by), and a publisher of another replica running at the same time cannot
	// store a notice twice or out of order (outbox.go). It is not tied to a tenure so
	// that a lost lease is not held up by a publish in flight.
	if p.outbox != nil {
		octx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { p.outbox.run(octx) })
		defer wg.Wait()
		defer stop()
	}
	if p.lease == nil {
		return p.runLoop(ctx)
	}
	if p.schema == "" {
		p.db.reportLease(p.lease)
		defer p.db.reportLease(nil)
	}
	standby := standbyLog{log: p.log}
	for {
		held, err := p.lease.TryAcquire(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			standby.failed(err)
		case held:
			standby.reset()
			p.runLeased(ctx)
		case err == nil:
			standby.note(p.lease.Status())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.pollEvery):
		}
	}
}

func (p *Projector) runLoop(ctx context.Context) error {
	// A projector that stops (shutdown, lease lost) no longer speaks for the read
	// models: the replica that takes over reports its own state.
	defer p.clearStall()
	p.retry = newRetryBackoff()
	for {
		err := p.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrFenced) {
			// Retrying cannot help: only a newer lease would, and the caller stands
			// by for one.
			return err
		}
		if p.ranHealthy() {
			p.recovered(p.next - 1)
		}
		wait := p.failed(err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
	}
}

func (p *Projector) runOnce(ctx context.Context) error {
	p.followingSince = time.Time{}
	// Every attempt of a leased projector claims the read models first: from then on
	// an older holder cannot commit, even one that has no event to apply yet.
	if p.fence != 0 {
		if err := p.db.claimCheckpoint(ctx, p.fence); err != nil {
			return err
		}
	}
	cp, err := p.checkpoint(ctx)
	if err != nil {
		return err
	}
	p.applied(cp)
	p.next = cp + 1
	// A rebuild's batches after the first may be applied while the one before ends
	// (rebuild_pipeline.go): tail is the last event applied, committed or not, and
	// pending the end in flight. An attempt starts with no chain heads known.
	tail := cp
	var pending *batchEnd
	defer func() {
		if pending != nil {
			_ = pending.wait()
		}
	}()
	p.heads, p.carry = nil, nil
	if err := p.loadErasures(ctx); err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deliveries, err := p.events.Follow(fctx, cp+1, 2*p.batchLimit())
	if err != nil {
		return err
	}
	p.followingSince = time.Now()
	for {
		var first eventstore.Delivery
		var ok, received bool
		if pending != nil {
			select {
			case first, ok = <-deliveries:
				received = true
			default:
				// Nothing to apply yet: the batch in flight ends and reports first.
				end := pending
				pending = nil
				if err := p.ended(end); err != nil {
					return err
				}
			}
		}
		if !received {
			select {
			case first, ok = <-deliveries:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			return errors.New("event follower stopped")
		}
		batch := []eventstore.Delivery{first}
		// After a failure, events go one per transaction until one applies again, so
		// that a stall names the very event it is stuck on.
		limit := p.batchLimit()
		if p.failures > 0 {
			limit = 1
		}
	drain:
		for len(batch) < limit {
			select {
			case d, ok := <-deliveries:
				if !ok {
					break drain
				}
				batch = append(batch, d)
			default:
				break drain
			}
		}
		if p.pipelines(batch) {
			end, err := p.applyPipelined(ctx, batch, pending, tail)
			if pending != nil {
				before := pending
				pending = nil
				if perr := p.ended(before); perr != nil {
					if end != nil {
						_ = end.wait()
					}
					return perr
				}
			}
			if err != nil {
				p.next = batch[0].Seq
				return err
			}
			pending, tail = end, end.last
			continue
		}
		if pending != nil {
			end := pending
			pending = nil
			if err := p.ended(end); err != nil {
				return err
			}
		}
		prev := p.next - 1
		p.next = batch[0].Seq
		// An erasure purges the organization's notices from the stream: those still
		// in the outbox go out first, so that none is published after the purge.
		if p.outbox != nil && erases(batch) {
			if err := p.outbox.drain(ctx); err != nil {
				return err
			}
		}
		p.batchStarted(batch)
		started := time.Now()
		last, staged, start, err := p.applyBatch(ctx, batch)
		if err != nil {
			return err
		}
		p.batchApplied(batch, prev, last, time.Since(started), start)
		p.applied(last)
		if p.outbox != nil {
			p.outbox.committed(staged)
		}
		p.progressed(last)
		p.next = last + 1
		tail = last
	}
}

// batchLimit is how many events one transaction applies at most.
func (p *Projector) batchLimit() int {
	if p.batch > 0 {
		return p.batch
	}
	return maxBatch
}

// batchStarted tells the batch observer the record time of the oldest event in hand.
func (p *Projector) batchStarted(batch []eventstore.Delivery) {
	if p.batches == nil || p.schema != "" {
		return
	}
	for _, d := range batch {
		if len(d.Records) > 0 {
			p.batches.BatchStarted(d.Records[0].Time)
			return
		}
	}
}

// batchApplied tells the batch observer what a committed batch applied: the events
// after prev (the checkpoint this projector last knew) up to last.
func (p *Projector) batchApplied(batch []eventstore.Delivery, prev, last uint64, took time.Duration, start BatchStart) {
	if p.batches == nil || p.schema != "" {
		return
	}
	b := AppliedBatch{Took: took, Start: start}
	for _, d := range batch {
		if d.Seq <= prev || d.Seq > last || len(d.Records) == 0 {
			continue
		}
		if b.Oldest.IsZero() {
			b.Oldest = d.Records[0].Time
		}
		b.Newest = d.Records[len(d.Records)-1].Time
		b.Events += len(d.Records)
	}
	p.batches.BatchApplied(b)
}

// PublishChanges makes the projector publish change notices for what it applies, on
// c, through its outbox (outbox.go).
func (p *Projector) PublishChanges(c changeStream) *Projector {
	p.changes = c
	p.outbox = newOutbox(p.db, c, p.log)
	return p
}

func (p *Projector) applied(seq uint64) {
	if p.onApplied != nil {
		p.onApplied(seq)
		return
	}
	p.db.notify(seq)
}

// scope points a transaction at the projector's schema. It writes every org as the
// tables' owner, which row-level security exempts (migration 005); no setting does.
func (p *Projector) scope(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	if p.schema != "" {
		b.Queue(`SELECT set_config('search_path', $1, true)`, p.schema)
	} else {
		b.Queue(setSearchPath)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("scope projector transaction: %w", err)
	}
	return nil
}

func (p *Projector) checkpoint(ctx context.Context) (uint64, error) {
	if p.schema == "" {
		return p.db.Checkpoint(ctx)
	}
	var seq int64
	err := pgx.BeginFunc(ctx, p.db.pool, func(tx pgx.Tx) error {
		if err := p.scope(ctx, tx); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT seq FROM projection_checkpoints WHERE name = $1`, CheckpointName).Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("checkpoint of %s: %w", p.schema, err)
	}
	return uint64(seq), nil
}

// applyBatch applies deliveries and advances the checkpoint in one transaction. Events
// at or below the stored checkpoint are skipped, so a second projector (another
// replica) or a replay never applies an event twice. A live batch that follows this
// projector's last commit applies on what that commit left, without the locks, and
// again under them if the read models moved (carried_batch.go).
func (p *Projector) applyBatch(ctx context.Context, batch []eventstore.Delivery) (uint64, []changefeed.Stored, BatchStart, error) {
	// The batch's events are on disk before it commits; the wait runs alongside the
	// batch's reads and writes.
	durable := p.awaitDurable(ctx, batch[len(batch)-1].Seq)
	how := StartLocked
	if start := p.carryFor(batch); start != nil {
		last, staged, err := p.applyOn(ctx, batch, start, durable)
		if err == nil {
			return last, staged, StartCarried, nil
		}
		p.carry = nil
		if ctx.Err() != nil {
			return 0, nil, "", err
		}
		p.log.Debug("projector: a batch applied on its carried checkpoint failed; applying it under the locks", "first", batch[0].Seq, "err", err)
		how = StartRefused
	}
	last, staged, err := p.applyOn(ctx, batch, nil, durable)
	return last, staged, how, err
}

// applyOn applies batch in one transaction: under the locks of the checkpoint and the
// chain heads it extends, read as it begins, or, carried not nil, on the ones the
// last commit left, which its last writes check.
func (p *Projector) applyOn(ctx context.Context, batch []eventstore.Delivery, carried *carry, durable *logDurable) (uint64, []changefeed.Stored, error) {
	var last uint64
	var staged []changefeed.Stored
	var lock checkpointLock
	// locked is the checkpoint the batch applied on, as it found it under the lock (or
	// carried it).
	var locked int64
	heads := map[string]string{}
	open := func(b *pgx.Batch) { queueLock(b, &lock, heads, auditedOrgs(batch)) }
	if carried != nil {
		open = nil
		lock = checkpointLock{seq: int64(carried.checkpoint), fence: int64(p.fence), found: true}
		maps.Copy(heads, carried.heads)
	}
	err := p.inBatchTx(ctx, open, func(tx pgx.Tx) error {
		res := newBatchTx(ctx, tx, p.db)
		defer func() { p.db.keepRows(res.rows) }()
		res.heads = heads
		p.keepNames(res)
		// A rebuild's writes may be in flight on tx (writeBehind) when the batch fails.
		defer func() { _ = res.settle() }()
		cp, fence := lock.seq, lock.fence
		var err error
		if !lock.found {
			cp, fence, err = createCheckpoint(ctx, tx, heads, auditedOrgs(batch))
		}
		if err != nil {
			return fmt.Errorf("lock checkpoint: %w", err)
		}
		locked = cp
		// Checked under the row lock, before anything is applied or published: a newer
		// holder's claim waits for this lock, so it lands either before this check
		// (and this batch is refused) or after this commit (and it reads its checkpoint).
		if uint64(fence) > p.fence {
			return fmt.Errorf("%w: read models claimed by lease revision %d, this projector's is %d", ErrFenced, fence, p.fence)
		}
		last = uint64(cp)
		var notes *notices
		if p.changes != nil {
			notes = &notices{}
		}
		if first := batch[0].Seq; first > last+1 {
			// The read models are behind what this follower delivers (they were
			// switched to a rebuilt schema under it): start again from their checkpoint.
			return fmt.Errorf("%w: checkpoint %d, next delivery %d", errBehind, last, first)
		}
		recs := unapplied(batch, last)
		if err := res.prefetchNames(recs); err != nil {
			return err
		}
		if notes == nil {
			// A rebuild's batch (no notices) folds the grid rows of the secrets it
			// creates (rebuild_fold.go); a live one's does nothing here.
			if err := res.prefetchFolds(recs); err != nil {
				return err
			}
		}
		if notes != nil {
			if err := res.prefetchValueVersions(recs); err != nil {
				return err
			}
		}
		for _, d := range batch {
			if d.Seq <= last {
				continue
			}
			// An event of an erased organization is passed over (the log keeps it);
			// any other that cannot be opened stalls the projection.
			if err := p.applyDelivery(ctx, d, notes, res); err != nil {
				return err
			}
			notes.number(d.Seq)
			last = d.Seq
		}
		if staged, err = p.stageNotices(ctx, notes, res); err != nil {
			return err
		}
		if p.schema == "" {
			if !durable.ready() {
				// The log is not on disk up to the batch yet: its last writes and the
				// checkpoint's advance go now, for PostgreSQL to apply them while the
				// log syncs, and the COMMIT once it has (inLiveTx).
				if err := res.sendLast(last, p.fence, carried); err != nil {
					return err
				}
				return durable.wait()
			}
			if err := durable.wait(); err != nil {
				return err
			}
			// The checkpoint and the COMMIT go with the batch's last writes, in the same
			// round trip; the checkpoint's advance fails if this projector was fenced.
			return res.queueCommit(last, p.fence, carried)
		}
		if err := durable.wait(); err != nil {
			return err
		}
		// The checkpoint goes with the batch's last writes, in the same round trip.
		// The fence condition repeats the check above so that this statement alone
		// can never let an older holder's batch through.
		advanced := res.execChecked(`UPDATE projection_checkpoints SET seq = $2 WHERE name = $1 AND fence <= $3`,
			CheckpointName, int64(last), int64(p.fence))
		if err := res.flush(last); err != nil {
			return err
		}
		if advanced.RowsAffected() != 1 {
			return fmt.Errorf("%w: checkpoint not advanced to %d at lease revision %d", ErrFenced, last, p.fence)
		}
		// The next batch of a rebuild may apply on them (rebuild_pipeline.go).
		p.keepHeads(res.heads, erases(batch))
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	p.keepCarry(carried != nil, uint64(locked), heads, last, batch)
	return last, staged, nil
}

// logDurable is the wait, begun with a batch, for the log to be on disk up to its last
// event, which the batch's COMMIT waits for. Only the batch's goroutine uses it.
type logDurable struct {
	ch   chan error
	err  error
	done bool
}

// awaitDurable begins the wait for the log to be on disk up to seq, alongside the
// batch's reads and writes.
func (p *Projector) awaitDurable(ctx context.Context, seq uint64) *logDurable {
	d := &logDurable{ch: make(chan error, 1)}
	go func() { d.ch <- p.durable(ctx, seq) }()
	return d
}

// ready says, without waiting, whether the wait is over.
func (d *logDurable) ready() bool {
	if !d.done {
		select {
		case d.err = <-d.ch:
			d.done = true
		default:
		}
	}
	return d.done
}

// wait returns once the log is on disk up to the batch, or why it is not.
func (d *logDurable) wait() error {
	if !d.done {
		d.err, d.done = <-d.ch, true
	}
	return d.err
}

// durable returns once the log is on disk up to seq, which a batch read from it and
// is about to commit (eventFollower).
func (p *Projector) durable(ctx context.Context, seq uint64) error {
	if err := p.events.Durable(ctx, seq); err != nil {
		return fmt.Errorf("log not on disk: %w", err)
	}
	return nil
}

// keepNames gives a live projector's batch the secret names and user emails the
// batches before it read. Both never change once written, and an erasure drops the
// organization's names (dropOrganization). Every batch of reveals read the names of
// the secrets it audits (one query, one decryption each) and the revealer's email (one
// more round trip) again; they are read once now. A name of a batch that then failed
// is kept: it came from the log, which the retry applies again. A rebuild's writer
// keeps its own (keptNames); the live projector does not seal names once (each row's
// is sealed under the key current when it is written). The live projector keeps fewer
// (liveKeptNames): the names of organizations whose grid index this process holds come
// from the index (batchTx.indexedName), and these are most of them.
func (p *Projector) keepNames(res *batchTx) {
	if p.db.kept != nil {
		return
	}
	if p.kept == nil {
		p.kept = &keptNames{max: liveKeptNames}
	}
	res.names, res.emails, _ = p.kept.maps()
}

// checkpointLock is what queueLock reads: the checkpoint and the fence, or found
// false when there is no checkpoint row yet.
type checkpointLock struct {
	seq, fence int64
	found      bool
}

// queueLock queues the lock and read of the checkpoint row and, in the same round
// trip, the lock and read into heads of the audit chain heads of orgs, the
// organizations whose events the batch audits, which applying it would otherwise do
// one round trip each (res.head).
func queueLock(b *pgx.Batch, lock *checkpointLock, heads map[string]string, orgs []string) {
	b.Queue(`SELECT seq, fence FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, CheckpointName).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&lock.seq, &lock.fence)
		lock.found = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if len(orgs) > 0 {
		b.Queue(`SELECT org_id::text, hash FROM audit_heads WHERE org_id = ANY($1::text[]::uuid[]) FOR UPDATE`, orgs).Query(func(rows pgx.Rows) error {
			for _, org := range orgs {
				heads[org] = ""
			}
			for rows.Next() {
				var org, h string
				if err := rows.Scan(&org, &h); err != nil {
					return err
				}
				heads[org] = h
			}
			return rows.Err()
		})
	}
}

// lockCheckpoint is queueLock in a round trip of its own on tx. It answers
// pgx.ErrNoRows when there is no checkpoint row yet.
func lockCheckpoint(ctx context.Context, tx pgx.Tx, heads map[string]string, orgs []string) (cp, fence int64, err error) {
	var lock checkpointLock
	b := &pgx.Batch{}
	queueLock(b, &lock, heads, orgs)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, 0, err
	}
	if !lock.found {
		return 0, 0, pgx.ErrNoRows
	}
	return lock.seq, lock.fence, nil
}

// createCheckpoint makes the checkpoint row when there is none yet (read models never
// projected to) and locks it, then reads the chain heads of orgs into heads again under
// its lock: the batch's first read of them came before any lock held them, and another
// projector starting on the same read models may have made the row and committed its
// first batch meanwhile (its INSERT is what this one's waits for). With the heads of
// that first read, this batch chained its entries to none: two projectors started
// together on fresh read models broke the audit chain so (in a CI run of
// TestTwoProjectorsOnOneReadModelsApplyEachEventOnce).
func createCheckpoint(ctx context.Context, tx pgx.Tx, heads map[string]string, orgs []string) (cp, fence int64, err error) {
	if _, err := tx.Exec(ctx, `INSERT INTO projection_checkpoints (name, seq) VALUES ($1, 0) ON CONFLICT DO NOTHING`, CheckpointName); err != nil {
		return 0, 0, err
	}
	return lockCheckpoint(ctx, tx, heads, orgs)
}

// auditedOrgs is the organizations (by id) whose events in the batch have audit entries.
func auditedOrgs(batch []eventstore.Delivery) []string {
	var orgs []string
	seen := map[string]bool{}
	for _, d := range batch {
		for _, r := range d.Records {
			if seen[r.OrgID] || domain.AuditAction(r.Event) == "" || !isUUID(r.OrgID) {
				continue
			}
			seen[r.OrgID] = true
			orgs = append(orgs, r.OrgID)
		}
	}
	return orgs
}

// inBatchTx runs fn in a transaction on the projector's schema, after open's reads,
// which are sent with the transaction's beginning and its scope. The live projector's
// is a liveTx (one round trip to begin and read, one to write and commit: a batch is
// what every write's answer waits for); a rebuild's names its schema as a parameter.
func (p *Projector) inBatchTx(ctx context.Context, open func(*pgx.Batch), fn func(pgx.Tx) error) error {
	if p.schema == "" {
		return p.inLiveTx(ctx, open, fn)
	}
	return pgx.BeginFunc(ctx, p.db.pool, func(tx pgx.Tx) error {
		if err := p.scope(ctx, tx); err != nil {
			return err
		}
		b := &pgx.Batch{}
		open(b)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("lock checkpoint: %w", err)
		}
		return fn(tx)
	})
}

// unapplied is the events of the deliveries after sequence last, in one slice of
// their size (grown by append, a rebuild's 5,000 took a twelfth of its allocations).
func unapplied(batch []eventstore.Delivery, last uint64) []domain.Recorded {
	n := 0
	for _, d := range batch {
		if d.Seq > last && d.Err == nil {
			n += len(d.Records)
		}
	}
	out := make([]domain.Recorded, 0, n)
	for _, d := range batch {
		if d.Seq > last && d.Err == nil {
			out = append(out, d.Records...)
		}
	}
	return out
}

// nameAAD and descriptionAAD bind a sealed read-model field to its secret.
func nameAAD(orgID, secretID string) []byte {
	return []byte("keyledger/readmodel/" + orgID + "/" + secretID + "/name")
}

func descriptionAAD(orgID, secretID string) []byte {
	return []byte("keyledger/readmodel/" + orgID + "/" + secretID + "/description")
}
