package projections_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// The snapshot reads of reveals and updates find their rows by key, as the reader
// role runs them, under row-level security, in an organization of 5,000 secrets. A
// cast of each wanted id in the join (uuid_in is not leakproof, so the planner may
// not use it below the security policy) once turned the reveal's read into a
// sequential scan of every secret: ~70 ms at 100,000 secrets, and 93 reveals a
// second in the benchmark.
func TestSnapshotReadsUseTheKeysUnderRowLevelSecurity(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	s := r.create(t, "PLANNED", map[domain.Environment]string{domain.Production: "p1"})
	r.wait(t, s.Seq)

	conn, schema := liveSchema(t, r)
	// Other secrets of the organization, written straight into the tables: only their
	// number matters to the planner.
	for _, q := range []string{
		`INSERT INTO ` + schema + `.secrets (org_id, id, name_sealed, description_sealed, owner_id, created_at, updated_at, version, changed_seq)
			SELECT $1, gen_random_uuid(), 'x', 'x', gen_random_uuid(), now(), now(), 1, 1 FROM generate_series(1, 5000)`,
		`INSERT INTO ` + schema + `.secret_values (org_id, secret_id, env, is_set, version, mask, sealed, updated_at)
			SELECT org_id, id, 'production', true, 1, 'x', 'x', now() FROM ` + schema + `.secrets WHERE org_id = $1 AND name_sealed = 'x'`,
	} {
		if _, err := conn.Exec(ctx, q, r.orgID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `ANALYZE `+schema+`.secrets; ANALYZE `+schema+`.secret_values`); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"reveal": {projections.RevealSnapshotSQL, []any{projections.CheckpointName, r.orgID, []string{s.ID}, []string{"production"}}},
		"update": {projections.SecretSnapshotSQL, []any{projections.CheckpointName, r.orgID, []string{s.ID}}},
	} {
		plan, err := r.db.Secrets.ExplainScoped(ctx, r.orgID, q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, table := range []string{"secrets", "secret_values"} {
			if strings.Contains(plan, "Seq Scan on "+table+" ") {
				t.Fatalf("the %s snapshot scans every row of %s:\n%s", name, table, plan)
			}
		}
		if !strings.Contains(plan, "Index Scan using secrets_pkey on secrets") {
			t.Fatalf("the %s snapshot does not find the secret by its key:\n%s", name, plan)
		}
	}
}
