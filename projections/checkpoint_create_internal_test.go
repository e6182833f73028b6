package projections

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A batch that finds no checkpoint row makes it, and reads the chain heads it extends
// again under the row's lock: another projector started on the same fresh read models
// may have made the row and committed a batch since the first read, and chaining to
// the heads of that read broke the audit chain (a CI run with two projectors).
func TestABatchThatMakesTheCheckpointReadsTheHeadsUnderItsLock(t *testing.T) {
	rm := openTestReadModels(t)
	ctx := context.Background()
	const org = "6f1c2d3e-0000-4000-8000-000000000003"
	begin := func() pgx.Tx {
		t.Helper()
		tx, err := rm.writer.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tx.Rollback(ctx) })
		if _, err := tx.Exec(ctx, setSearchPath); err != nil {
			t.Fatal(err)
		}
		return tx
	}

	// This batch begins on fresh read models: no checkpoint, no head.
	late := begin()
	heads := map[string]string{}
	if _, _, err := lockCheckpoint(ctx, late, heads, []string{org}); !errors.Is(err, pgx.ErrNoRows) || heads[org] != "" {
		t.Fatalf("fresh read models: %v, heads %v", err, heads)
	}
	// Another projector makes the checkpoint and commits a batch to 5 meanwhile.
	first := begin()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO projection_checkpoints (name, seq) VALUES ($1, 0)`, []any{CheckpointName}},
		{`INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, 5, 'head-at-5')`, []any{org}},
		{`UPDATE projection_checkpoints SET seq = 5 WHERE name = $1`, []any{CheckpointName}},
	} {
		if _, err := first.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	cp, _, err := createCheckpoint(ctx, late, heads, []string{org})
	if err != nil {
		t.Fatal(err)
	}
	if cp != 5 || heads[org] != "head-at-5" {
		t.Fatalf("after the other projector's batch: checkpoint %d, head %q; want 5 and its head", cp, heads[org])
	}
}
