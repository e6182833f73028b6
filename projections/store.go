package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/keyledger/keyledger/eventstore"
)

// readerRole is the role every query runs as (SET LOCAL ROLE): not the tables' owner
// and NOBYPASSRLS, so row-level security always binds it. Keyledger connects as the
// owner (or a superuser), which writes every org without RLS; see migration 005.
const readerRole = "keyledger_reader"

// CheckpointName is the checkpoint row of the read models.
const CheckpointName = "read_models"

// store is the connection every read-model type shares: the pool, the keyring that
// opens sealed fields, and the scoped transactions every query runs in. Its methods are
// unexported on purpose: each type that embeds it (Pool, Progress, the query types, the
// projector's writer) then shows only its own job's exported methods.
type store struct {
	pool *pgxpool.Pool
	keys *eventstore.Keyring
	log  *slog.Logger
}

// pointerTable names the schema that holds the live read models. Rebuilding fills a
// fresh schema and then switches this pointer in one transaction.
const pointerTable = "public.keyledger_read_model"

// setSearchPath is the statement every transaction starts with: it follows the pointer,
// so a switch after a rebuild takes effect on the next transaction of every replica.
const setSearchPath = `SELECT set_config('search_path', (SELECT schema FROM ` + pointerTable + ` WHERE id = 1), true)`

// grantReader lets the reader role (see prepareReaderRole) read a schema, when the role
// exists.
func grantReader(ctx context.Context, tx pgx.Tx, schema string) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, readerRole).Scan(&exists); err != nil || !exists {
		return err
	}
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := tx.Exec(ctx, `GRANT USAGE ON SCHEMA `+ident+` TO `+readerRole+`; GRANT SELECT ON ALL TABLES IN SCHEMA `+ident+` TO `+readerRole); err != nil {
		return fmt.Errorf("grant %s: %w", schema, err)
	}
	return nil
}

// prepareReaderRole makes sure the reader role exists, that the connecting role may
// switch to it, and that it may read the live schema. Without it row-level security
// would not bind the API's queries (the owner is exempt), so Open fails instead.
func (db *store) prepareReaderRole(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+readerRole+`') THEN
			CREATE ROLE `+readerRole+` NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
		END IF;
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`)
	if err != nil {
		return fmt.Errorf("create role %s (or have an administrator run CREATE ROLE %s NOLOGIN NOBYPASSRLS; GRANT %s TO <keyledger's user>): %w",
			readerRole, readerRole, readerRole, err)
	}
	var member bool
	if err := db.pool.QueryRow(ctx, `SELECT pg_has_role(current_user, $1, 'MEMBER')`, readerRole).Scan(&member); err != nil {
		return fmt.Errorf("check role %s: %w", readerRole, err)
	}
	if !member {
		if _, err := db.pool.Exec(ctx, `GRANT `+readerRole+` TO CURRENT_USER`); err != nil {
			return fmt.Errorf("grant role %s to the connecting user (or have an administrator run GRANT %s TO <keyledger's user>): %w",
				readerRole, readerRole, err)
		}
	}
	var bypass bool
	if err := db.pool.QueryRow(ctx, `SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = $1`, readerRole).Scan(&bypass); err != nil {
		return fmt.Errorf("check role %s: %w", readerRole, err)
	}
	if bypass {
		return fmt.Errorf("role %s may bypass row-level security; it must not (ALTER ROLE %s NOSUPERUSER NOBYPASSRLS)", readerRole, readerRole)
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `GRANT SELECT ON `+pointerTable+` TO `+readerRole); err != nil {
			return fmt.Errorf("grant pointer: %w", err)
		}
		var schema string
		if err := tx.QueryRow(ctx, `SELECT schema FROM `+pointerTable+` WHERE id = 1`).Scan(&schema); err != nil {
			return fmt.Errorf("read model pointer: %w", err)
		}
		return grantReader(ctx, tx, schema)
	})
}

// inOrg runs fn in a read-only transaction that row-level security scopes to one
// organization.
func (db *store) inOrg(ctx context.Context, orgID string, fn func(pgx.Tx) error) error {
	return db.scoped(ctx, orgID, "", fn)
}

// inOrgSnapshot is inOrg with one snapshot for every statement (repeatable read): the
// checkpoint it reads and the rows it reads agree, which the name index relies on.
func (db *store) inOrgSnapshot(ctx context.Context, orgID string, fn func(pgx.Tx) error) error {
	return db.scopedTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, orgID, "", fn)
}

// asUser runs fn in a read-only transaction that row-level security scopes to one
// user: their own user row, memberships, the organizations they belong to and their
// personal tokens. It is for queries about one user across orgs.
func (db *store) asUser(ctx context.Context, userID string, fn func(pgx.Tx) error) error {
	return db.scoped(ctx, "", userID, fn)
}

// scoped runs fn as the reader role with both scope settings set for the transaction
// (the one not used to ""), so that nothing a session set before on a pooled
// connection widens what fn sees.
func (db *store) scoped(ctx context.Context, orgID, userID string, fn func(pgx.Tx) error) error {
	return db.scopedTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly}, orgID, userID, fn)
}

// scopedTx is scoped with opts, as a bounded read (boundedRead).
func (db *store) scopedTx(ctx context.Context, opts pgx.TxOptions, orgID, userID string, fn func(pgx.Tx) error) error {
	return db.boundedRead(ctx, func(conn *pgxpool.Conn) error {
		return db.scopedTxOn(ctx, conn, opts, orgID, userID, fn)
	})
}

// boundedRead runs read on a connection of its own, every round trip of which must
// end by readTimeout, and reports a failure to reach PostgreSQL as ErrUnavailable
// (readErr). The bound is the connection's deadline, as pgconn sets it for a context
// that ends: read's queries run under whatever context their closures hold (most
// often the request's, which never ends), and a context with a deadline of its own
// would make pgconn watch it, query by query, on the hottest reads. Taking the
// connection waits at most for one that a frozen PostgreSQL holds (bounded so) or for
// a new one (connectTimeout).
func (db *store) boundedRead(ctx context.Context, read func(*pgxpool.Conn) error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return readErr(fmt.Errorf("acquire connection: %w", err))
	}
	defer conn.Release()
	nc := conn.Conn().PgConn().Conn()
	_ = nc.SetDeadline(time.Now().Add(readTimeout))
	// Cleared before the connection goes back to the pool (deferred calls run last
	// first). A connection the deadline broke is closed, and the pool drops it.
	defer func() { _ = nc.SetDeadline(time.Time{}) }()
	return readErr(read(conn))
}

// longRead is inOrg (inOrgSnapshot with snapshot) for the reads that are long by
// design, which the caller's context bounds instead of readTimeout: the values fetch
// of a whole environment, the audit export and its verification.
func (db *store) longRead(ctx context.Context, orgID string, snapshot bool, fn func(pgx.Tx) error) error {
	opts := pgx.TxOptions{AccessMode: pgx.ReadOnly}
	if snapshot {
		opts.IsoLevel = pgx.RepeatableRead
	}
	return readErr(db.scopedTxOn(ctx, db.pool, opts, orgID, "", fn))
}

// scopedTxOn is scopedTx on a given pool or connection.
func (db *store) scopedTxOn(ctx context.Context, on interface {
	BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
}, opts pgx.TxOptions, orgID, userID string, fn func(pgx.Tx) error) error {
	if begin, ok := scopedBegin(opts, orgID, userID); ok {
		// One round trip opens and scopes the transaction (a read used to spend two
		// before its first query: BEGIN, then the scoping batch).
		opts.BeginQuery = begin
		return pgx.BeginTxFunc(ctx, on, opts, fn)
	}
	return pgx.BeginTxFunc(ctx, on, opts, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueScope(b, orgID, userID)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("scope transaction: %w", err)
		}
		return fn(tx)
	})
}

// scopedRead is one query of scopedQueries and what consumes its rows.
type scopedRead struct {
	sql  string
	args []any
	read func(pgx.Rows) error
}

// scopedQueries runs queries in one read-only transaction scoped to orgID and userID,
// in one round trip (a pipeline: BEGIN, the scoping statements, the queries, COMMIT):
// for the hot reads, where a transaction otherwise costs three round trips.
//
// The pipeline needs the queries prepared on the connection already: pgx prepares a
// new statement before the pipeline runs, outside the transaction, where search_path
// does not name the read models yet. When one is not prepared on the connection that
// runs it, the queries take the ordinary transaction once, which prepares them there
// (PostgreSQL re-plans a prepared statement by itself after a rebuild switches schemas).
func (db *store) scopedQueries(ctx context.Context, orgID, userID string, queries ...scopedRead) error {
	return db.scopedQueriesIn(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly}, orgID, userID, queries...)
}

// scopedQueriesIn is scopedQueries in a read-only transaction of opts' isolation level:
// REPEATABLE READ gives every query of the pipeline one snapshot.
// It is a bounded read (boundedRead).
func (db *store) scopedQueriesIn(ctx context.Context, opts pgx.TxOptions, orgID, userID string, queries ...scopedRead) error {
	opts.AccessMode = pgx.ReadOnly
	begin, ok := beginSQL(opts)
	if !ok {
		return fmt.Errorf("scoped queries: isolation level %q", opts.IsoLevel)
	}
	return db.boundedRead(ctx, func(conn *pgxpool.Conn) error {
		return db.scopedQueriesOn(ctx, conn, begin, opts, orgID, userID, queries...)
	})
}

// scopedQueriesOn is scopedQueriesIn on conn, whose transaction begin opens.
func (db *store) scopedQueriesOn(ctx context.Context, conn *pgxpool.Conn, begin string, opts pgx.TxOptions, orgID, userID string, queries ...scopedRead) error {
	sqlOf := func(q scopedRead) string { return q.sql }
	// Fails here, outside the read models, when the connection lacks a statement.
	if prepareAll(ctx, conn.Conn(), queries, sqlOf) != nil {
		return db.scopedTxOn(ctx, conn, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: opts.IsoLevel}, orgID, userID, func(tx pgx.Tx) error {
			if err := prepareAll(ctx, tx.Conn(), queries, sqlOf); err != nil {
				return err
			}
			for _, q := range queries {
				rows, err := tx.Query(ctx, q.sql, q.args...)
				if err != nil {
					return err
				}
				if err := q.read(rows); err != nil {
					return err
				}
			}
			return nil
		})
	}
	b := &pgx.Batch{}
	b.Queue(begin)
	queueScope(b, orgID, userID)
	for _, q := range queries {
		b.Queue(q.sql, q.args...)
	}
	b.Queue(`COMMIT`)
	br := conn.SendBatch(ctx, b)
	err := func() error {
		for range 1 + scopeStatements { // BEGIN and the scope
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("scope transaction: %w", err)
			}
		}
		for _, q := range queries {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			if err := q.read(rows); err != nil {
				return err
			}
		}
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
		// Left inside the failed transaction: do not hand the connection back.
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
	}
	return err
}

// scopedBegin is the BEGIN of a scoped read transaction with its scoping statements, as
// one simple-protocol query. The scope is spelled into the text, so only ids that are
// UUIDs (or empty) take this way; ok is false otherwise, and the caller sets the scope
// with parameters.
func scopedBegin(opts pgx.TxOptions, orgID, userID string) (string, bool) {
	if opts.BeginQuery != "" || (orgID != "" && !isUUID(orgID)) || (userID != "" && !isUUID(userID)) {
		return "", false
	}
	begin, ok := beginSQL(opts)
	if !ok {
		return "", false
	}
	// Two statements for PostgreSQL to parse and run, not four.
	return begin + "; " + scopeStatement("'"+orgID+"'", "'"+userID+"'"), true
}

// beginSQL is the BEGIN statement of opts; false for an isolation level it does not
// spell.
func beginSQL(opts pgx.TxOptions) (string, bool) {
	begin := "BEGIN"
	switch opts.IsoLevel {
	case "":
	case pgx.RepeatableRead, pgx.Serializable, pgx.ReadCommitted:
		begin += " ISOLATION LEVEL " + string(opts.IsoLevel)
	default:
		return "", false
	}
	if opts.AccessMode == pgx.ReadOnly {
		begin += " READ ONLY"
	}
	return begin, true
}

// scopeStatements is how many statements queueScope queues.
const scopeStatements = 1

// scopeSQL scopes a transaction in one statement: the read models' schema, the reader
// role (set_config('role') is what SET LOCAL ROLE does) and the two scope settings,
// set in that order. It was three statements, and every statement of a pipeline costs
// PostgreSQL its own bind and execution: for a reveal's snapshot read (BEGIN, the
// scope, the query, COMMIT) the scope was half the statements.
var scopeSQL = scopeStatement("$1", "$2")

// scopeStatement is scopeSQL with orgID and userID given as SQL (parameters, or
// quoted literals).
func scopeStatement(orgID, userID string) string {
	return setSearchPath + `, set_config('role', '` + readerRole + `', true), ` +
		`set_config('keyledger.org_id', ` + orgID + `, true), set_config('keyledger.user_id', ` + userID + `, true)`
}

// queueScope queues the statement that scopes a transaction to orgID and userID
// (scopeSQL).
func queueScope(b *pgx.Batch, orgID, userID string) {
	b.Queue(scopeSQL, orgID, userID)
}

// checkpoint is the last stream sequence the read models reflect. Progress.Checkpoint
// shows it; the audit verification reads it too.
func (db *store) checkpoint(ctx context.Context) (uint64, error) {
	var seq int64
	// The checkpoint belongs to no org or user: an unscoped reader transaction sees it.
	err := db.scoped(ctx, "", "", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT seq FROM projection_checkpoints WHERE name = $1`, CheckpointName).Scan(&seq)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	return uint64(seq), nil
}

// prepareAll prepares the statements of items on conn, each named by its text, which
// is how a batch finds it: free for a statement the connection has. A statement is
// parsed before any statement of its round trip runs, so one that needs the search
// path a transaction sets must be prepared inside it, once per connection.
func prepareAll[T any](ctx context.Context, conn preparer, items []T, sql func(T) string) error {
	for _, it := range items {
		q := sql(it)
		if _, err := conn.Prepare(ctx, q, q); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	return nil
}

// preparer prepares statements: a connection, or a transaction on one.
type preparer interface {
	Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error)
}
