package projections

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

// migrationFiles are the read-model migrations, numbered 001, 002, ... Their names and
// contents were applied as they are in the wild: never edit one, add the next number.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

const (
	// migrateLock is the advisory lock that serializes the whole start-up migration:
	// creating the pointer and the first schema, adopting the old bookkeeping, and tern's
	// own steps (tern also locks, with a key of its own, around each of its calls).
	// It is the hand-written runner's key, so that in a rolling upgrade an old replica
	// and a new one starting together still exclude each other.
	migrateLock = 7243001

	// versionTable is tern's bookkeeping, one per read-model schema: a rebuild's fresh
	// schema counts its own migrations, apart from the live one's.
	versionTable = "schema_version"

	// legacyTable is the hand-written runner's bookkeeping, one row per applied file,
	// named "migrations/NNN_name.sql". It is read to adopt a database that runner
	// migrated, and left in place.
	legacyTable = "schema_migrations"
)

// plainIdentifier tells whether a read-model schema's name is a lower-case identifier
// that needs no quoting (keyledger_rm_1, keyledger_rm_<base36 time>). tern writes its
// version table's name into its SQL as given, so no other name is let through.
func plainIdentifier(name string) bool {
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// migrate makes sure the pointer and the live schema exist, applies the embedded
// migrations that have not run yet and prepares the reader role, under an advisory lock
// so that replicas starting together do not race.
func (db *store) migrate(ctx context.Context) (err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { releaseMigrationConn(ctx, conn, err != nil) }()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("migrate lock: %w", err)
	}
	defer func() {
		// Without cancel: a lock left held on a pooled connection would block every
		// later start. If the unlock fails anyway, the connection is discarded.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock); uerr != nil && err == nil {
			err = fmt.Errorf("migrate unlock: %w", uerr)
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+pointerTable+` (
		id integer PRIMARY KEY CHECK (id = 1), schema text NOT NULL, switched_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var schema string
	err = conn.QueryRow(ctx, `SELECT schema FROM `+pointerTable+` WHERE id = 1`).Scan(&schema)
	if errors.Is(err, pgx.ErrNoRows) {
		schema = "keyledger_rm_1"
		if err := migrateSchema(ctx, conn.Conn(), schema, db.log); err != nil {
			return err
		}
		_, err = conn.Exec(ctx, `INSERT INTO `+pointerTable+` (id, schema) VALUES (1, $1)`, schema)
	}
	if err != nil {
		return fmt.Errorf("read model pointer: %w", err)
	}
	if err := migrateSchema(ctx, conn.Conn(), schema, db.log); err != nil {
		return err
	}
	// Still under the lock: replicas starting together would otherwise GRANT on the
	// same objects at once, and Postgres fails one of them ("tuple concurrently
	// updated").
	return db.prepareReaderRole(ctx)
}

// releaseMigrationConn returns a connection that migrated to the pool, or closes it
// when the migration failed: tern's unlock runs on the caller's context, so a cancelled
// migration can leave tern's session-level advisory lock held, and a pooled connection
// that kept it would block every later migration, a rebuild's included.
func releaseMigrationConn(ctx context.Context, conn *pgxpool.Conn, failed bool) {
	if failed {
		// The pool discards a closed connection on Release; the close error says
		// nothing the migration's error has not.
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
	}
	conn.Release()
}

// migrateSchema creates schema if needed, adopts the hand-written runner's bookkeeping
// if that runner migrated it, and has tern apply the migrations it lacks, recording
// them in the schema's own version table.
func migrateSchema(ctx context.Context, conn *pgx.Conn, schema string, logger *slog.Logger) error {
	if !plainIdentifier(schema) {
		return fmt.Errorf("migrate: read-model schema name %q is not a plain identifier", schema)
	}
	files, err := migrationNames()
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema %s: %w", schema, err)
		}
		return adoptLegacy(ctx, tx, schema, files, logger)
	})
	if err != nil {
		return err
	}
	m, err := migrate.NewMigrator(ctx, conn, schema+"."+versionTable)
	if err != nil {
		return fmt.Errorf("migrate %s: version table: %w", schema, err)
	}
	m.Migrations, err = schemaMigrations(schema, files)
	if err != nil {
		return err
	}
	m.OnStart = func(seq int32, name, _, _ string) {
		logger.Info("applying migration", "schema", schema, "version", seq, "name", name)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return grantReader(ctx, tx, schema) })
}

// migrationNames lists the embedded migration files in version order. tern's
// FindMigrations refuses a gap or a duplicate number, so a file's number is its version.
func migrationNames() ([]string, error) {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	names, err := migrate.FindMigrations(dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return names, nil
}

// schemaMigrations gives tern the embedded files as migrations that run in schema.
//
// Each is a function rather than tern's UpSQL for two reasons. tern runs RESET ALL after
// every step, so a search_path set once on the session would hold for the first
// migration only: the function sets it inside each step's transaction. And tern treats
// the SQL it loads from files as text/template, which could change a file that was
// applied in the wild as written; here the bytes run exactly as embedded.
func schemaMigrations(schema string, files []string) ([]*migrate.Migration, error) {
	ms := make([]*migrate.Migration, 0, len(files))
	for i, name := range files {
		sql, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		ms = append(ms, &migrate.Migration{
			Sequence: int32(i + 1),
			Name:     name,
			UpFunc: func(ctx context.Context, conn *pgx.Conn) error {
				if _, err := conn.Exec(ctx, `SELECT set_config('search_path', $1, true)`, schema); err != nil {
					return fmt.Errorf("migration %s: search_path %s: %w", name, schema, err)
				}
				if _, err := conn.Exec(ctx, string(sql)); err != nil {
					return fmt.Errorf("migration %s in %s: %w", name, schema, err)
				}
				return nil
			},
		})
	}
	return ms, nil
}

// adoptLegacy gives a schema that the hand-written runner migrated a tern version table
// that says how far that runner got, so tern runs only what came after. That runner
// applied the files in order in one transaction, so what it recorded is always the
// first N files; anything else (a file this binary lacks, a gap) is refused rather than
// guessed at. Nothing happens once the schema has tern's table, or if it never had the
// old one. The caller's transaction makes the new table appear with its version or not
// at all.
func adoptLegacy(ctx context.Context, tx pgx.Tx, schema string, files []string, logger *slog.Logger) error {
	var hasTern, hasLegacy bool
	err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL`,
		pgx.Identifier{schema, versionTable}.Sanitize(), pgx.Identifier{schema, legacyTable}.Sanitize()).Scan(&hasTern, &hasLegacy)
	if err != nil {
		return fmt.Errorf("migrate %s: look for bookkeeping: %w", schema, err)
	}
	if hasTern || !hasLegacy {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT name FROM `+pgx.Identifier{schema, legacyTable}.Sanitize())
	if err != nil {
		return fmt.Errorf("migrate %s: read %s: %w", schema, legacyTable, err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("migrate %s: read %s: %w", schema, legacyTable, err)
	}
	version := 0
	for version < len(files) && slices.Contains(applied, legacyName(files[version])) {
		version++
	}
	adopted := make([]string, version)
	for i := range adopted {
		adopted[i] = legacyName(files[i])
	}
	for _, name := range applied {
		if !slices.Contains(adopted, name) {
			return fmt.Errorf("migrate %s: %s records %q, which is not among the first %d migrations this binary has: refusing to guess what was applied",
				schema, legacyTable, name, version)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE `+pgx.Identifier{schema, versionTable}.Sanitize()+` (version int4 NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s: adopt %s: %w", schema, legacyTable, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, versionTable}.Sanitize()+` (version) VALUES ($1)`, version); err != nil {
		return fmt.Errorf("migrate %s: adopt %s: %w", schema, legacyTable, err)
	}
	logger.Info("adopted hand-written migration bookkeeping", "schema", schema, "version", version)
	return nil
}

// legacyName is the name the hand-written runner recorded for a migration file: its path
// in the embedded file system.
func legacyName(file string) string { return "migrations/" + file }
