package projections

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/eventstore"
)

// onDisk is a log whose events are all on disk already: the pipeline's batches come
// from the test, not from a follower.
type onDisk struct{}

func (onDisk) Follow(context.Context, uint64, int) (<-chan eventstore.Delivery, error) {
	return nil, errors.New("onDisk delivers nothing")
}

func (onDisk) Durable(context.Context, uint64) error { return nil }

// pipelineRig is a projector on a fresh database whose checkpoint is at 10 and whose
// organization org has the audit chain head "h1".
func pipelineRig(t *testing.T) (*Projector, string) {
	t.Helper()
	ctx := context.Background()
	rm := openTestReadModels(t)
	p := &Projector{db: rm.writer, events: onDisk{}}
	const org = "6f1c2d3e-0000-4000-8000-000000000001"
	err := pgx.BeginFunc(ctx, p.db.pool, func(tx pgx.Tx) error {
		if err := p.scope(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO projection_checkpoints (name, seq) VALUES ($1, 10) ON CONFLICT (name) DO UPDATE SET seq = 10`, CheckpointName); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, 10, 'h1')`, org)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, org
}

func (p *Projector) storedCheckpoint(t *testing.T) uint64 {
	t.Helper()
	cp, err := p.checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// A pipelined batch begins its transaction only when it first needs PostgreSQL, and
// then checks, under the checkpoint's lock, that the checkpoint and the chain heads
// it applied on are the stored ones; a fence above its own refuses it.
func TestPipelinedBatchChecksWhatItAppliedOn(t *testing.T) {
	t.Parallel()
	p, org := pipelineRig(t)
	ctx := context.Background()
	begin := func(last uint64, head string) error {
		res := newBatchTx(ctx, nil, p.db)
		res.carried = map[string]string{org: head}
		err := p.beginPipelined(ctx, res, []string{org}, last)
		if res.tx != nil {
			_ = res.tx.Rollback(ctx)
		}
		return err
	}
	if err := begin(10, "h1"); err != nil {
		t.Fatalf("on the stored checkpoint and head: %v", err)
	}
	if err := begin(9, "h1"); !errors.Is(err, errMoved) {
		t.Fatalf("on checkpoint 9 of 10: %v, want errMoved", err)
	}
	if err := begin(10, "h0"); !errors.Is(err, errMoved) {
		t.Fatalf("on another chain head: %v, want errMoved", err)
	}
	err := pgx.BeginFunc(ctx, p.db.pool, func(tx pgx.Tx) error {
		if err := p.scope(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE projection_checkpoints SET fence = 3 WHERE name = $1`, CheckpointName)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := begin(10, "h1"); !errors.Is(err, ErrFenced) {
		t.Fatalf("under a higher fence: %v, want ErrFenced", err)
	}
}

// A pipelined batch is applied while the batch before it ends, and its own end waits
// for that one: it commits after it, and fails, committing nothing, when it failed.
func TestPipelinedBatchEndsAfterTheOneBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, failing := range []bool{false, true} {
		p, _ := pipelineRig(t)
		prev := &batchEnd{first: 9, last: 10, done: make(chan struct{})}
		end, err := p.applyPipelined(ctx, []eventstore.Delivery{{Seq: 11}, {Seq: 12}}, prev, 10)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-end.done:
			t.Fatalf("the batch ended (%v) before the one before it", end.err)
		case <-time.After(50 * time.Millisecond):
		}
		if failing {
			prev.err = errors.New("the batch before failed")
		}
		close(prev.done)
		err = end.wait()
		if got := p.storedCheckpoint(t); failing && (!errors.Is(err, errMoved) || got != 10) {
			t.Fatalf("after a failed batch: %v, checkpoint %d; want errMoved and 10", err, got)
		} else if !failing && (err != nil || got != 12) {
			t.Fatalf("after a batch that ended: %v, checkpoint %d; want 12", err, got)
		}
	}
}

// The batch's transaction begins once, on its first send, whichever goroutine sends;
// a failure to begin fails every send after it.
func TestBatchBeginsItsTransactionOnItsFirstSend(t *testing.T) {
	t.Parallel()
	tx := &recordingTx{}
	r := newBatchTx(context.Background(), nil, &writer{bulk: true})
	begun := 0
	r.start = func() error {
		begun++
		r.tx = tx
		return nil
	}
	r.exec(`UPDATE something`)
	if begun != 0 {
		t.Fatal("begun before anything was sent")
	}
	for range 2 {
		r.exec(`UPDATE something`)
		if err := r.sync(); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"writes 2", "writes 1"}; begun != 1 || !reflect.DeepEqual(tx.ops, want) {
		t.Fatalf("begun %d times, sent %q; want once and %q", begun, tx.ops, want)
	}
	failed := newBatchTx(context.Background(), nil, &writer{bulk: true})
	boom := errors.New("boom")
	failed.start = func() error { return boom }
	for range 2 {
		if err := failed.sync(); !errors.Is(err, boom) {
			t.Fatalf("sync after a failed begin: %v", err)
		}
	}
}
