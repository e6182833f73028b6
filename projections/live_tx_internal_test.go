package projections

import (
	"context"
	"errors"
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
			err := res.queueCommit(last, fence)
			trips = append(trips, tx.(*liveTx).trips)
			return err
		})
	}
	stored := func() (seq int64, head string) {
		t.Helper()
		err := pgx.BeginFunc(ctx, rm.writer.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, setSearchPath); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT seq FROM projection_checkpoints WHERE name = $1`, CheckpointName).Scan(&seq); err != nil {
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
		if seq, head := stored(); seq != int64(last) || head != "head-at-"+string(rune('0'+last)) {
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
