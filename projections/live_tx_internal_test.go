package projections

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A live batch commits in the round trip of its last writes, and only while its
// projector's lease revision is still the read models' fence: the checkpoint's advance
// fails otherwise, and nothing the batch wrote is kept. Either way the connection goes
// back to the pool outside any transaction.
func TestALiveBatchCommitsOnlyUnderItsFence(t *testing.T) {
	rm := openTestReadModels(t)
	ctx := context.Background()
	if err := rm.writer.claimCheckpoint(ctx, 5); err != nil {
		t.Fatal(err)
	}
	const org = "6f1c2d3e-0000-4000-8000-000000000001"
	var trips []int
	batch := func(fence, last uint64) error {
		p := &Projector{db: rm.writer, fence: fence}
		var lock checkpointLock
		heads := map[string]string{}
		return p.inLiveTx(ctx, func(b *pgx.Batch) { queueLock(b, &lock, heads, []string{org}) }, func(tx pgx.Tx) error {
			if _, read := heads[org]; !lock.found || lock.fence != 5 || !read {
				t.Fatalf("locked %+v and heads %v, want the checkpoint at fence 5 and the org's head read", lock, heads)
			}
			res := newBatchTx(ctx, tx, rm.writer)
			res.heads = map[string]string{org: "head-at-" + string(rune('0'+last))}
			err := res.queueCommit(last, fence, nil)
			trips = append(trips, tx.(*liveTx).trips)
			return err
		})
	}
	stored := func() (uint64, string) { return storedCheckpointAndHead(t, rm, org) }

	// Twice each way: the first batches on a connection begin in a round trip of
	// their own, the later ones with their reads.
	for range 2 {
		if err := batch(3, 7); !errors.Is(err, ErrFenced) {
			t.Fatalf("a batch at fence 3 under fence 5: %v, want ErrFenced", err)
		}
		if seq, head := stored(); seq != 0 || head != "" {
			t.Fatalf("after a fenced batch: checkpoint %d, head %q; want neither written", seq, head)
		}
	}
	for _, last := range []uint64{7, 8} {
		if err := batch(5, last); err != nil {
			t.Fatal(err)
		}
		if seq, head := stored(); seq != last || head != "head-at-"+string(rune('0'+last)) {
			t.Fatalf("after a batch to %d: checkpoint %d, head %q", last, seq, head)
		}
	}
	// Two round trips a batch once the connection has the reads prepared: the
	// beginning with the reads, the last writes with the COMMIT.
	if last := trips[len(trips)-1]; last != 2 {
		t.Errorf("round trips per batch %v, want the last at 2", trips)
	}
	for _, c := range rm.writer.pool.AcquireAllIdle(ctx) {
		if s := c.Conn().PgConn().TxStatus(); s != 'I' {
			t.Errorf("a pooled connection is in transaction status %q", s)
		}
		c.Release()
	}
}

// A batch that carries on from the one before it (carried_batch.go) begins its
// transaction with its last writes, one round trip, and commits only where the
// checkpoint and the chain heads are still what it carried and its lease revision is
// still the fence: otherwise it fails with errCarryMoved and keeps nothing, and the
// connection goes back to the pool outside any transaction.
func TestACarriedBatchCommitsOnlyOnWhatItCarried(t *testing.T) {
	rm := openTestReadModels(t)
	ctx := context.Background()
	if err := rm.writer.claimCheckpoint(ctx, 5); err != nil {
		t.Fatal(err)
	}
	const org = "6f1c2d3e-0000-4000-8000-000000000002"
	head := func(seq uint64) string { return fmt.Sprintf("head-at-%d", seq) }
	var trips int
	// batch commits a batch to last, under the locks when carried is nil.
	batch := func(fence, last uint64, carried *carry) error {
		p := &Projector{db: rm.writer, fence: fence}
		var open func(*pgx.Batch)
		if carried == nil {
			var lock checkpointLock
			open = func(b *pgx.Batch) { queueLock(b, &lock, map[string]string{}, []string{org}) }
		}
		return p.inLiveTx(ctx, open, func(tx pgx.Tx) error {
			res := newBatchTx(ctx, tx, rm.writer)
			res.heads = map[string]string{org: head(last)}
			err := res.queueCommit(last, fence, carried)
			trips = tx.(*liveTx).trips
			return err
		})
	}
	stored := func() (uint64, string) { return storedCheckpointAndHead(t, rm, org) }
	carrying := func(cp uint64, h string) *carry {
		return &carry{checkpoint: cp, heads: map[string]string{org: h}}
	}

	// An organization's first head: none carried ('').
	if err := batch(5, 7, carrying(0, "")); err != nil {
		t.Fatal(err)
	}
	if seq, h := stored(); seq != 7 || h != head(7) {
		t.Fatalf("after a carried batch to 7: checkpoint %d, head %q", seq, h)
	}
	for _, tc := range []struct {
		name    string
		fence   uint64
		carried *carry
	}{
		{"a checkpoint that moved", 5, carrying(6, head(7))},
		{"a head that moved", 5, carrying(7, head(6))},
		{"an organization with a head carried as none", 5, carrying(7, "")},
		{"a fenced projector", 3, carrying(7, head(7))},
	} {
		if err := batch(tc.fence, 9, tc.carried); !errors.Is(err, errCarryMoved) {
			t.Fatalf("%s: %v, want errCarryMoved", tc.name, err)
		}
		if seq, h := stored(); seq != 7 || h != head(7) {
			t.Fatalf("after %s: checkpoint %d, head %q; want neither written", tc.name, seq, h)
		}
	}
	for _, last := range []uint64{8, 9} {
		if err := batch(5, last, carrying(last-1, head(last-1))); err != nil {
			t.Fatal(err)
		}
		if seq, h := stored(); seq != last || h != head(last) {
			t.Fatalf("after a carried batch to %d: checkpoint %d, head %q", last, seq, h)
		}
	}
	// One round trip once the connection has the statements prepared: the beginning,
	// the last writes and the COMMIT.
	if trips != 1 {
		t.Errorf("the last carried batch took %d round trips, want 1", trips)
	}
	// A batch under the locks after carried ones is as it was.
	if err := batch(5, 10, nil); err != nil {
		t.Fatal(err)
	}
	if seq, h := stored(); seq != 10 || h != head(10) {
		t.Fatalf("after a batch under the locks to 10: checkpoint %d, head %q", seq, h)
	}
	for _, c := range rm.writer.pool.AcquireAllIdle(ctx) {
		if s := c.Conn().PgConn().TxStatus(); s != 'I' {
			t.Errorf("a pooled connection is in transaction status %q", s)
		}
		c.Release()
	}
}

// storedCheckpointAndHead is the read models' committed checkpoint (Checkpoint) and
// org's audit chain head ("" when it has none).
func storedCheckpointAndHead(t *testing.T, rm *ReadModels, org string) (seq uint64, head string) {
	t.Helper()
	ctx := context.Background()
	seq, err := rm.writer.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, rm.writer.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setSearchPath); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT hash FROM audit_heads WHERE org_id = $1`, org).Scan(&head)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return seq, head
}
