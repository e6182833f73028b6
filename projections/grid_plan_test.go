package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// liveSchema connects to r's database as its owner (closed when the test ends) and
// names the schema the read models live in.
func liveSchema(t *testing.T, r *rig) (*pgx.Conn, string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, r.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	var schema string
	if err := conn.QueryRow(ctx, `SELECT table_schema FROM information_schema.tables WHERE table_name = 'secret_values' ORDER BY table_schema DESC LIMIT 1`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return conn, schema
}

// The name index's query for the rows changed since its checkpoint reaches them by key:
// Postgres looks at no row of the organization beyond the changed ones, even when its
// tables were never analyzed (as right after seeding or a rebuild filled them). A
// page's query used to pick its hundred secrets by filtering every secret row of the
// organization, and to scan an environment's every value row for each of them: a page
// cost O(organization) in Postgres although the name index had made it O(page) in Go.
// Now a page reads no row at all (the index holds them); bringing the index up to date
// must cost the changes, not the organization.
func TestGridChangedRowsQueryReadsOnlyTheChangedRows(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	all := map[domain.Environment]domain.Plaintext{
		domain.Development: domain.NewPlaintext("dev"), domain.Staging: domain.NewPlaintext("stg"), domain.Production: domain.NewPlaintext("prd"),
	}
	var last uint64
	for i := range 300 {
		res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: fmt.Sprintf("KEY_%04d", i), Values: all})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Seq
	}
	r.wait(t, last)
	page, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	since := last
	changed := page[5:15]
	for _, row := range changed {
		v := domain.NewPlaintext("changed")
		res, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: row.ID,
			Values: map[domain.Environment]*domain.Plaintext{domain.Staging: &v}})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Seq
	}
	r.wait(t, last)

	conn, schema := liveSchema(t, r)
	if _, err := conn.Exec(ctx, `SELECT set_config('search_path', $1, false)`, schema); err != nil {
		t.Fatal(err)
	}
	var plan []map[string]any
	if err := conn.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+projections.ChangedRowsSQL, r.orgID, int64(since)).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	var removed, read float64
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		for _, k := range []string{"Rows Removed by Filter", "Rows Removed by Join Filter", "Rows Removed by Index Recheck"} {
			if v, ok := n[k].(float64); ok {
				removed += v
			}
		}
		if rel, _ := n["Relation Name"].(string); rel == "secrets" || rel == "secret_values" {
			rows, _ := n["Actual Rows"].(float64)
			loops, _ := n["Actual Loops"].(float64)
			read += rows * loops
		}
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			if m, ok := k.(map[string]any); ok {
				walk(m)
			}
		}
	}
	walk(plan[0]["Plan"].(map[string]any))
	if want := float64(len(changed) * 4); removed != 0 || read > want || read < float64(len(changed)) {
		out, _ := json.MarshalIndent(plan, "", " ")
		t.Fatalf("%d changed secrets read %v rows of secrets and secret_values (at least %d, at most %v) and threw %v away:\n%s", len(changed), read, len(changed), want, removed, out)
	}
}
