package pgtest_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyledger/keyledger/projections/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(tb testing.TB, dbURL string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(tb.Context(), dbURL)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func databaseOf(tb testing.TB, dbURL string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func TestNewDatabaseGivesEachParallelTestItsOwn(t *testing.T) {
	t.Parallel()
	created := make(chan string, 2)
	var adminURL string
	t.Run("group", func(t *testing.T) {
		for _, table := range []string{"alpha", "beta"} {
			t.Run(table, func(t *testing.T) {
				t.Parallel()
				dbURL := pgtest.NewDatabase(t)
				created <- dbURL
				conn := connect(t, dbURL)
				if _, err := conn.Exec(t.Context(), "CREATE TABLE "+table+" (id int PRIMARY KEY)"); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Exec(t.Context(), "INSERT INTO "+table+" VALUES (1)"); err != nil {
					t.Fatal(err)
				}
				var tables []string
				rows, err := conn.Query(t.Context(), "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
				if err != nil {
					t.Fatal(err)
				}
				tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				if len(tables) != 1 || tables[0] != table {
					t.Errorf("database has tables %v, want only %s", tables, table)
				}
			})
		}
	})
	close(created)

	var names []string
	for dbURL := range created {
		names = append(names, databaseOf(t, dbURL))
		u, _ := url.Parse(dbURL)
		u.Path = "/postgres"
		adminURL = u.String()
	}
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %v, want two distinct", names)
	}
	var left int
	err := connect(t, adminURL).QueryRow(t.Context(),
		"SELECT count(*) FROM pg_database WHERE datname = ANY($1)", names).Scan(&left)
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d of %v still exist after the tests ended", left, names)
	}
}

func TestNewDatabaseIsDroppedWithOpenConnections(t *testing.T) {
	t.Parallel()
	var leaked *pgx.Conn
	t.Run("leaves a connection open", func(t *testing.T) {
		conn, err := pgx.Connect(t.Context(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		leaked = conn // deliberately not closed before the drop
	})
	defer func() { _ = leaked.Close(context.Background()) }()
	if err := leaked.Ping(t.Context()); err == nil {
		t.Errorf("connection to the dropped database %s still works", leaked.Config().Database)
	}
}

// BenchmarkNewDatabase measures creating a database; the drops happen in
// cleanup, outside the timed loop.
func BenchmarkNewDatabase(b *testing.B) {
	for b.Loop() {
		_ = pgtest.NewDatabase(b)
	}
}
