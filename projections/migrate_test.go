package projections_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
	"github.com/keyledger/keyledger/projections/pgtest"
)

// migrationFiles lists the migration files on disk, in order, as the hand-written
// runner saw them.
func migrationFiles(tb testing.TB) []string {
	tb.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		tb.Fatal("no migrations found")
	}
	return names
}

// appliedMigrations is the names of the migrations rec saw logged as applying, in order.
func appliedMigrations(rec *logRecorder) []string {
	var names []string
	for _, line := range rec.matching("applying migration") {
		_, name, _ := strings.Cut(line, " name=")
		name, _, _ = strings.Cut(name, " ")
		names = append(names, name)
	}
	return names
}

func openRecorded(tb testing.TB, url string) (*projections.ReadModels, *logRecorder, error) {
	tb.Helper()
	rec := newLogRecorder()
	db, err := projections.Open(context.Background(), url, nil, rec.logger())
	if err == nil {
		tb.Cleanup(db.Close)
	}
	return db, rec, err
}

func connect(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// ternVersion reads the version tern recorded in schema.
func ternVersion(tb testing.TB, conn *pgx.Conn, schema string) int {
	tb.Helper()
	var v int
	if err := conn.QueryRow(context.Background(), `SELECT version FROM `+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&v); err != nil {
		tb.Fatalf("tern version of %s: %v", schema, err)
	}
	return v
}

// legacyMigrate migrates a fresh database with the first n migrations the way the
// hand-written runner did before tern replaced it: the pointer table, the schema
// keyledger_rm_1, and in one transaction with the search_path on that schema, a
// schema_migrations table with one row per file named by its embedded path.
func legacyMigrate(tb testing.TB, url string, files []string) {
	tb.Helper()
	ctx := context.Background()
	conn := connect(tb, url)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS public.keyledger_read_model (
		id integer PRIMARY KEY CHECK (id = 1), schema text NOT NULL, switched_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		tb.Fatal(err)
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS "keyledger_rm_1"`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, "keyledger_rm_1"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		for _, f := range files {
			sql, err := os.ReadFile("migrations/" + f)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, "migrations/"+f); err != nil {
				return err
			}
		}
		// A read model with data in it: adopting must keep it.
		_, err := tx.Exec(ctx, `INSERT INTO projection_checkpoints (name, seq) VALUES ($1, 42)`, projections.CheckpointName)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO public.keyledger_read_model (id, schema) VALUES (1, 'keyledger_rm_1')`); err != nil {
		tb.Fatal(err)
	}
}

func TestMigrateFreshDatabase(t *testing.T) {
	t.Parallel()
	files := migrationFiles(t)
	url := pgtest.NewDatabase(t)
	_, rec, err := openRecorded(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if got := appliedMigrations(rec); !slices.Equal(got, files) {
		t.Fatalf("applied %v, want %v", got, files)
	}
	conn := connect(t, url)
	if v := ternVersion(t, conn, "keyledger_rm_1"); v != len(files) {
		t.Fatalf("tern version %d, want %d", v, len(files))
	}
	var legacy bool
	if err := conn.QueryRow(context.Background(), `SELECT to_regclass('keyledger_rm_1.schema_migrations') IS NOT NULL`).Scan(&legacy); err != nil {
		t.Fatal(err)
	}
	if legacy {
		t.Fatal("a fresh database got the hand-written runner's table")
	}

	_, again, err := openRecorded(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if got := appliedMigrations(again); len(got) != 0 {
		t.Fatalf("second start applied %v again", got)
	}
}

func TestMigrateAdoptsHandWrittenRunnersBookkeeping(t *testing.T) {
	t.Parallel()
	files := migrationFiles(t)
	for _, tc := range []struct {
		name string
		old  int // how many migrations the hand-written runner applied
	}{
		{"every migration", len(files)},
		{"an older release", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := pgtest.NewDatabase(t)
			legacyMigrate(t, url, files[:tc.old])

			// Re-running any of the first migrations would fail (CREATE TABLE, CREATE
			// POLICY), so success plus the log shows nothing applied re-ran.
			db, rec, err := openRecorded(t, url)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := appliedMigrations(rec), files[tc.old:]; !slices.Equal(got, want) {
				t.Fatalf("applied %v, want only %v", got, want)
			}
			conn := connect(t, url)
			if v := ternVersion(t, conn, "keyledger_rm_1"); v != len(files) {
				t.Fatalf("tern version %d, want %d", v, len(files))
			}
			var oldRows int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM keyledger_rm_1.schema_migrations`).Scan(&oldRows); err != nil {
				t.Fatal(err)
			}
			if oldRows != tc.old {
				t.Fatalf("hand-written runner's table has %d rows, want the %d it wrote", oldRows, tc.old)
			}
			if cp, err := db.Progress.Checkpoint(ctx); err != nil || cp != 42 {
				t.Fatalf("checkpoint after adoption = %d, %v; want the 42 written before", cp, err)
			}

			_, again, err := openRecorded(t, url)
			if err != nil {
				t.Fatal(err)
			}
			if got := appliedMigrations(again); len(got) != 0 {
				t.Fatalf("second start applied %v again", got)
			}
		})
	}
}

func TestMigrateRefusesBookkeepingItDoesNotKnow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	files := migrationFiles(t)
	url := pgtest.NewDatabase(t)
	legacyMigrate(t, url, files)
	conn := connect(t, url)
	// A release this binary predates applied a migration it does not have.
	if _, err := conn.Exec(ctx, `INSERT INTO keyledger_rm_1.schema_migrations (name) VALUES ('migrations/999_from_the_future.sql')`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openRecorded(t, url); err == nil || !strings.Contains(err.Error(), "999_from_the_future") {
		t.Fatalf("Open = %v, want a refusal naming the unknown migration", err)
	}
	var adopted bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('keyledger_rm_1.schema_version') IS NOT NULL`).Scan(&adopted); err != nil {
		t.Fatal(err)
	}
	if adopted {
		t.Fatal("a refused adoption left a tern version table behind")
	}
}

func TestConcurrentMigrationsApplyOnce(t *testing.T) {
	t.Parallel()
	files := migrationFiles(t)
	url := pgtest.NewDatabase(t)
	const replicas = 2
	recs := make([]*logRecorder, replicas)
	errs := make([]error, replicas)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range replicas {
		wg.Go(func() {
			start.Wait()
			_, recs[i], errs[i] = openRecorded(t, url)
		})
	}
	start.Done()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var applying int
	var all []string
	for _, rec := range recs {
		got := appliedMigrations(rec)
		if len(got) > 0 {
			applying++
		}
		all = append(all, got...)
	}
	if applying != 1 || !slices.Equal(all, files) {
		t.Fatalf("%d replicas applied migrations, together %v; want one replica applying %v", applying, all, files)
	}
	if v := ternVersion(t, connect(t, url), "keyledger_rm_1"); v != len(files) {
		t.Fatalf("tern version %d, want %d", v, len(files))
	}
}

func TestRebuildSchemaHasItsOwnVersionTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	files := migrationFiles(t)
	r := newRig(t, true)
	res := r.create(t, "MIGRATED", map[domain.Environment]string{domain.Production: "p"})
	r.wait(t, res.Seq)
	rep, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, r.url)
	for _, schema := range []string{rep.OldSchema, rep.Schema} {
		if v := ternVersion(t, conn, schema); v != len(files) {
			t.Fatalf("tern version of %s = %d, want %d", schema, v, len(files))
		}
	}
	// The switch is visible to the API's queries, which run in the new schema.
	rows, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 10})
	if err != nil || len(rows) != 1 {
		t.Fatalf("secrets after rebuild = %d rows, %v; want 1", len(rows), err)
	}
}
