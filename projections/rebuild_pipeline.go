package projections

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/keyledger/keyledger/eventstore"
)

// A rebuild's batches end on a goroutine of their own: while one batch's last writes
// are sent and committed, the projector applies the next batch's events in Go. A
// rebuild's batch spent a third of its time at its end, the projector waiting for
// PostgreSQL to store its last audit rows, then to begin the next transaction and
// lock the checkpoint.
//
// The next batch applies what it can from what the batch before it left: the
// checkpoint it commits (the last sequence it applied) and the audit chain heads it
// writes, which a rebuild's projector, the only writer of its schema, knows. Its
// transaction begins on a connection of its own when it first needs PostgreSQL (a
// read, a send of its writes, or its end), after the batch before it has committed.
// It then locks the checkpoint and the chain heads it used, as every batch does
// before its first write, and fails if they are not what it applied on: the batch
// before it failed, or another projector moved them. A failure of either batch
// fails the projector's run, which starts again from the stored checkpoint.

// batchEnd is a rebuild batch's end (its last writes and its commit) in flight.
type batchEnd struct {
	first, last uint64
	done        chan struct{}
	err         error
}

func (e *batchEnd) wait() error {
	<-e.done
	return e.err
}

// errMoved means a pipelined batch found the checkpoint or a chain head it applied
// on moved: the batch before it failed, or another projector committed.
var errMoved = errors.New("read models moved under a pipelined rebuild batch")

// pipelines tells whether batch can be applied while the batch before it ends: a
// rebuild's (no notices, no outbox, no lease), in a run without failures (after one,
// events go one per transaction so that a stall names its event), without an
// erasure (which drops rows of every schema), and auditing only organizations whose
// chain head the batches before it left.
func (p *Projector) pipelines(batch []eventstore.Delivery) bool {
	if p.schema == "" || !p.db.bulk || p.changes != nil || p.outbox != nil || p.failures > 0 || p.heads == nil || erases(batch) {
		return false
	}
	for _, org := range auditedOrgs(batch) {
		if _, ok := p.heads[org]; !ok {
			return false
		}
	}
	return true
}

// keepHeads remembers the audit chain heads a rebuild's batch leaves, for the next
// batch to apply on (pipelines). After an erasure it starts again from these alone.
func (p *Projector) keepHeads(heads map[string]string, erased bool) {
	if p.heads == nil || erased {
		p.heads = map[string]string{}
	}
	maps.Copy(p.heads, heads)
}

// applyPipelined applies batch after the events up to last, whose batch may still be
// ending (prev, nil when it has ended), and returns its own end, in flight.
func (p *Projector) applyPipelined(ctx context.Context, batch []eventstore.Delivery, prev *batchEnd, last uint64) (*batchEnd, error) {
	res := newBatchTx(ctx, nil, p.db)
	p.keepNames(res)
	after := last
	// Only the heads the checkpoint's lock verifies (beginPipelined) are carried.
	orgs := auditedOrgs(batch)
	res.carried = make(map[string]string, len(orgs))
	for _, org := range orgs {
		res.carried[org] = p.heads[org]
	}
	res.start = func() error {
		if prev != nil {
			if err := prev.wait(); err != nil {
				return fmt.Errorf("%w: the batch before it failed: %w", errMoved, err)
			}
		}
		return p.beginPipelined(ctx, res, orgs, after)
	}
	fail := func(err error) (*batchEnd, error) {
		_ = res.settle()
		if res.tx != nil {
			_ = res.tx.Rollback(ctx)
		}
		return nil, err
	}
	if first := batch[0].Seq; first != last+1 {
		return fail(fmt.Errorf("%w: batch from %d after %d", errBehind, first, last))
	}
	recs := unapplied(batch, last)
	if err := res.prefetchNames(recs); err != nil {
		return fail(err)
	}
	if err := res.prefetchFolds(recs); err != nil {
		return fail(err)
	}
	for _, d := range batch {
		if err := p.applyDelivery(ctx, d, nil, res); err != nil {
			return fail(err)
		}
		last = d.Seq
	}
	p.keepHeads(res.heads, false)
	advanced := res.execChecked(`UPDATE projection_checkpoints SET seq = $2 WHERE name = $1 AND fence <= $3`,
		CheckpointName, int64(last), int64(p.fence))
	end := &batchEnd{first: batch[0].Seq, last: last, done: make(chan struct{})}
	go func() {
		defer close(end.done)
		end.err = p.endPipelined(ctx, res, last, advanced)
	}()
	return end, nil
}

// beginPipelined begins a pipelined batch's transaction and checks, under the
// checkpoint's lock, that the checkpoint and the chain heads of orgs are what the
// batch applied on.
func (p *Projector) beginPipelined(ctx context.Context, res *batchTx, orgs []string, last uint64) error {
	tx, err := p.db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin rebuild batch: %w", err)
	}
	res.tx = tx
	if err := p.scope(ctx, tx); err != nil {
		return err
	}
	locked := map[string]string{}
	cp, fence, err := lockCheckpoint(ctx, tx, locked, orgs)
	if err != nil {
		return fmt.Errorf("lock checkpoint: %w", err)
	}
	if uint64(fence) > p.fence {
		return fmt.Errorf("%w: read models claimed by lease revision %d, this projector's is %d", ErrFenced, fence, p.fence)
	}
	if uint64(cp) != last {
		return fmt.Errorf("%w: checkpoint %d, the batch follows %d", errMoved, cp, last)
	}
	for _, org := range orgs {
		if locked[org] != res.carried[org] {
			return fmt.Errorf("%w: the audit chain head of %s", errMoved, org)
		}
	}
	return nil
}

// endPipelined sends a pipelined batch's last writes (beginning its transaction if
// nothing did yet) and commits it.
func (p *Projector) endPipelined(ctx context.Context, res *batchTx, last uint64, advanced *checkedWrite) error {
	err := res.flush(last)
	if err == nil && advanced.RowsAffected() != 1 {
		err = fmt.Errorf("%w: checkpoint not advanced to %d at lease revision %d", ErrFenced, last, p.fence)
	}
	if err == nil {
		// What the batch read from the log is on disk before it commits.
		err = p.durable(ctx, last)
	}
	if err == nil {
		if err = res.tx.Commit(ctx); err != nil {
			err = fmt.Errorf("commit rebuild batch: %w", err)
		}
	}
	if err != nil && res.tx != nil {
		_ = res.tx.Rollback(ctx)
	}
	return err
}

// ended waits for a pipelined batch's end and reports it as runOnce reports a batch.
func (p *Projector) ended(end *batchEnd) error {
	if err := end.wait(); err != nil {
		p.next = end.first
		return err
	}
	p.applied(end.last)
	p.progressed(end.last)
	p.next = end.last + 1
	return nil
}
