package projections

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/keyledger/keyledger/projections/pgtest"
)

// A rebuild builds its deferred indexes side by side, each committed on its own: an
// index whose table is busy does not hold up the others (here one table is held by
// an open write, and the other table's index is built and visible meanwhile), and
// restore returns once every index is built.
func TestRestoreBuildsIndexesSideBySide(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, blocker := busyAndFree(t, ctx, ``)
	d := &deferredIndexes{schema: "s", defs: []string{`CREATE INDEX busy_x ON s.busy (x)`, `CREATE INDEX free_x ON s.free (x)`}}
	done := make(chan error, 1)
	go func() { done <- d.run(ctx, pool, d.defs) }()
	built := func(name string) bool {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = 's' AND indexname = $1`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	meanwhile(t, ctx, blocker, done, func() bool { return built("free_x") }, "free_x built while busy_x waited for its table")
	if !built("busy_x") {
		t.Fatal("busy_x was not built")
	}
}

// A build that fails fails restore, and the others stop.
func TestRestoreFailsWithABuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE SCHEMA s; CREATE TABLE s.t (x int)`); err != nil {
		t.Fatal(err)
	}
	d := &deferredIndexes{schema: "s", defs: []string{`CREATE INDEX t_x ON s.t (x)`, `CREATE INDEX t_y ON s.t (y)`, `CREATE INDEX t_x2 ON s.t (x)`}}
	if err := d.run(ctx, pool, d.defs); err == nil {
		t.Fatal("restore with an index on a missing column succeeded")
	}
}

// A rebuild gathers its tables' statistics in the queue of its index builds: a table
// is analyzed while another table's index waits (here for an open write), where the
// analyses ran only once every index was built, and restoreAndAnalyze returns once
// the index is built and every table analyzed.
func TestRestoreAnalyzesWhileAnIndexIsBuilt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, blocker := busyAndFree(t, ctx, `INSERT INTO s.free SELECT generate_series(1, 100)`)
	d := &deferredIndexes{schema: "s", defs: []string{`CREATE INDEX busy_x ON s.busy (x)`}, tables: map[string]bool{"busy": true}}
	done := make(chan error, 1)
	go func() { done <- d.restoreAndAnalyze(ctx, pool) }()
	analyzed := func(table string) bool {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 's' AND relname = $1 AND last_analyze IS NOT NULL`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	meanwhile(t, ctx, blocker, done, func() bool { return analyzed("free") }, "s.free analyzed while busy_x waited for its table")
	if !analyzed("busy") {
		t.Fatal("s.busy was not analyzed")
	}
}

// busyAndFree makes schema s with tables busy and free (then runs more, if any) in a
// database of its own, and holds busy with an open write until the test ends or the
// blocker is rolled back.
func busyAndFree(t *testing.T, ctx context.Context, more string) (*pgxpool.Pool, pgx.Tx) {
	t.Helper()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE SCHEMA s; CREATE TABLE s.busy (x int); CREATE TABLE s.free (x int)`); err != nil {
		t.Fatal(err)
	}
	if more != "" {
		if _, err := pool.Exec(ctx, more); err != nil {
			t.Fatal(err)
		}
	}
	blocker, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = blocker.Rollback(ctx) })
	if _, err := blocker.Exec(ctx, `INSERT INTO s.busy VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	return pool, blocker
}

// meanwhile waits (10 s at most) for what should happen while blocker holds a table,
// checks that the restore (done) has not returned before it, then lets the table go
// and waits for the restore's result.
func meanwhile(t *testing.T, ctx context.Context, blocker pgx.Tx, done <-chan error, happened func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !happened() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the restore returned (%v) before the blocked table's index was built", err)
	default:
	}
	if err := blocker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
