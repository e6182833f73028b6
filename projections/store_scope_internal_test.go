package projections

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A scoped read's pipeline scopes its transaction in one statement (schema, reader
// role, organization and user), and the one-round-trip BEGIN of the other reads
// holds two statements: BEGIN and that one.
func TestScopeIsOneStatement(t *testing.T) {
	t.Parallel()
	b := &pgx.Batch{}
	queueScope(b, "6f1c2d3e-0000-4000-8000-000000000001", "")
	if b.Len() != 1 || scopeStatements != 1 {
		t.Fatalf("the scope queued %d statements (scopeStatements %d), want 1", b.Len(), scopeStatements)
	}
	for _, part := range []string{"set_config('search_path'", "set_config('role', '" + readerRole + "', true)",
		"set_config('keyledger.org_id', $1, true)", "set_config('keyledger.user_id', $2, true)"} {
		if !strings.Contains(b.QueuedQueries[0].SQL, part) {
			t.Fatalf("the scope %q lacks %q", b.QueuedQueries[0].SQL, part)
		}
	}
	begin, ok := scopedBegin(pgx.TxOptions{AccessMode: pgx.ReadOnly}, "6f1c2d3e-0000-4000-8000-000000000001", "")
	if !ok {
		t.Fatal("no one-round-trip BEGIN for a UUID")
	}
	if n := strings.Count(begin, ";") + 1; n != 2 || !strings.Contains(begin, "set_config('keyledger.org_id', '6f1c2d3e-0000-4000-8000-000000000001', true)") {
		t.Fatalf("BEGIN %q holds %d statements, want 2 with the org spelled in", begin, n)
	}
}

// Both ways of scoping a read (the pipeline's statement and the one-round-trip BEGIN)
// leave the transaction as the reader role, on the live read models, scoped to the
// organization and user given.
func TestScopedReadsRunAsTheReaderInTheirScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rm := openTestReadModels(t)
	db := rm.Secrets.store
	const org, user = "6f1c2d3e-0000-4000-8000-000000000001", "6f1c2d3e-0000-4000-8000-000000000002"
	const probe = `SELECT current_user::text, current_setting('search_path'), current_setting('keyledger.org_id', true), current_setting('keyledger.user_id', true)`
	want := [4]string{readerRole, "keyledger_rm_1", org, user}
	for range 2 { // the second time, the pipeline's statements are prepared
		var got [4]string
		err := db.scopedQueries(ctx, org, user, scopedRead{sql: probe, read: func(rows pgx.Rows) error {
			defer rows.Close()
			if !rows.Next() {
				return rows.Err()
			}
			return rows.Scan(&got[0], &got[1], &got[2], &got[3])
		}})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("a pipelined scoped read ran as %q, want %q", got, want)
		}
	}
	var got [4]string
	if err := db.scoped(ctx, org, user, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, probe).Scan(&got[0], &got[1], &got[2], &got[3])
	}); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("a scoped transaction ran as %q, want %q", got, want)
	}
}
