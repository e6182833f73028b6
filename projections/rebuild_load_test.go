package projections_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// indexDefs lists the indexes of schema as their definitions, with the schema's name
// taken out so that two schemas can be compared.
func indexDefs(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, schema)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range defs {
		defs[i] = strings.ReplaceAll(d, schema+".", "<schema>.")
	}
	return defs
}

// The rebuild drops its schema's secondary indexes while it loads and builds them
// again before the switch: the schema that goes live has every index the migrations
// declare, as they declare it.
func TestRebuildBuildsTheIndexesItDeferred(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, true)
	res := r.create(t, "INDEXED", map[domain.Environment]string{domain.Production: "p"})
	r.wait(t, res.Seq)
	conn := connectLive(t, r.url)
	var live string
	if err := conn.QueryRow(ctx, `SELECT schema FROM public.keyledger_read_model`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	want := indexDefs(t, conn, live)
	if !strings.Contains(strings.Join(want, "\n"), "audit_log_actor") {
		t.Fatalf("the live schema has no secondary index to compare: %q", want)
	}
	rep, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := indexDefs(t, conn, rep.Schema)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("indexes of the rebuilt schema:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// And it goes live analyzed: the planner knows its tables' sizes.
	var unanalyzed []string
	rows, err := conn.Query(ctx, `SELECT relname FROM pg_stat_user_tables WHERE schemaname = $1 AND last_analyze IS NULL AND last_autoanalyze IS NULL ORDER BY relname`, rep.Schema)
	if err != nil {
		t.Fatal(err)
	}
	if unanalyzed, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(unanalyzed) > 0 {
		t.Fatalf("tables of the rebuilt schema never analyzed: %v", unanalyzed)
	}
}

// The rebuild copies audit rows in with COPY where the live projector inserts them:
// for text the log holds and Postgres text does not (a NUL, broken UTF-8) the rebuilt
// trail still equals the live one row for row, and its chain still verifies.
func TestRebuildCopiesHostileAuditTextAsTheProjectorInserts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, true)
	s := r.create(t, "HOSTILE", map[domain.Environment]string{domain.Production: "p"})
	var last uint64
	for _, ua := range []string{"nul\x00inside", "broken \xff\xfe utf-8", "plain"} {
		res, err := r.env.Store.Append(ctx, eventstore.Pending{
			Aggregate: eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateAccess, ID: s.ID}, Unchecked: true,
			Events: []domain.Event{domain.SecretRevealed{SecretID: s.ID, Env: domain.Production, Version: 1}},
			Actor:  domain.Actor{UserID: r.owner.UserID, IP: "10.0.0.1\x00", UserAgent: ua},
		})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Seq()
	}
	r.wait(t, last)
	before := snap(t, r)
	if !strings.Contains(before.audit, "\uFFFD") {
		t.Fatalf("the live trail shows no replaced text: %s", before.audit)
	}
	if _, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil); err != nil {
		t.Fatal(err)
	}
	if after := snap(t, r); after != before {
		t.Fatalf("rebuilt trail differs from the live one:\n%s\nwant:\n%s", after.audit, before.audit)
	}
	ok, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store)
	if err != nil || !ok.OK {
		t.Fatalf("verify after rebuild: %+v %v", ok, err)
	}
}
