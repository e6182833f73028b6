package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// rebuildBatch bounds how many events one transaction of a rebuild applies. A rebuild
// replays the whole log and nobody waits on any one event of it, so its transactions
// are ten times the live projector's: each costs a commit, a checkpoint update and the
// lookups of its first events (names, emails, chain heads) that later ones reuse.
const rebuildBatch = 5_000

// rebuildWriter is the writer a rebuild's projector writes with: the live one's keys,
// name index and progress, on a pool of its own whose sessions commit without waiting
// for the WAL to reach the disk (synchronous_commit = off).
//
// That loses nothing a reader could see. Nobody reads the rebuild's schema until the
// switch, and the switch commits on the live pool, synchronously: its commit record
// follows every commit of the rebuild in the WAL, and flushing it flushes them. A
// crash before that leaves the old schema live and the rebuild abandoned (the next
// rebuild drops it), whatever of it reached the disk.
func (db *writer) rebuildWriter(ctx context.Context) (*writer, func(), error) {
	cfg := db.pool.Config()
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	// One projector writes, on two transactions at most: a batch's, and the one
	// before it while it ends (rebuild_pipeline.go); each batch's writes go on its
	// transaction's connection from one goroutine at a time. The index builds take
	// indexBuilders more.
	cfg.MaxConns, cfg.MinConns = 2+indexBuilders, 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("rebuild: connect: %w", err)
	}
	st := *db.store
	st.pool = pool
	return &writer{store: &st, Progress: db.Progress, names: db.names, bulk: true, kept: &keptNames{}, nameReads: db.nameReads,
		rebuildBatch: db.rebuildBatch}, pool.Close, nil
}

// deferredIndexes are the secondary indexes of a rebuild's schema, dropped while it
// loads and built again, as they were declared, before it goes live.
type deferredIndexes struct {
	schema string
	defs   []string
	// tables are the tables the indexes are on.
	tables map[string]bool
}

// deferIndexes drops the indexes of schema that no write of the projector needs: not
// a primary key or a unique index (ON CONFLICT and the lookups by key use those).
// Building an index once from the loaded rows is a sort; keeping it up to date row by
// row was, for the audit trail's three, most of what a reveal's insert cost.
func deferIndexes(ctx context.Context, pool *pgxpool.Pool, schema string) (*deferredIndexes, error) {
	d := &deferredIndexes{schema: schema, tables: map[string]bool{}}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT c.relname, t.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
			JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND NOT i.indisunique AND NOT i.indisprimary
			ORDER BY c.relname`, schema)
		if err != nil {
			return err
		}
		type index struct{ name, table, def string }
		found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (index, error) {
			var ix index
			err := row.Scan(&ix.name, &ix.table, &ix.def)
			return ix, err
		})
		if err != nil {
			return err
		}
		for _, ix := range found {
			if _, err := tx.Exec(ctx, `DROP INDEX `+pgx.Identifier{schema, ix.name}.Sanitize()); err != nil {
				return err
			}
			d.defs = append(d.defs, ix.def)
			d.tables[ix.table] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rebuild: defer the indexes of %s: %w", schema, err)
	}
	return d, nil
}

// indexBuilders is how many deferred indexes a rebuild builds at once, each on its
// own connection: the audit trail's three are most of the time between the load and
// the switch, and one build sorts on one PostgreSQL process.
const indexBuilders = 2

// restoreAndAnalyze builds the deferred indexes again, with the definitions they were
// dropped with (pg_get_indexdef names the schema, so no search_path is involved), and
// gathers the planner's statistics of every table of the schema (schemaTables), in one
// queue of indexBuilders workers (run): the analyses of the other tables run while the audit trail's
// last index is built, where they waited for every build to end, one after the other
// (together a fifth of a 100,000-event rebuild). An ANALYZE and a build of one table
// wait for each other's lock, whichever comes first; column statistics do not depend
// on the indexes (none of the schema's is on an expression). The tables with an index
// to build are analyzed last, so that a worker waiting for a build's lock holds up no
// other analysis.
func (d *deferredIndexes) restoreAndAnalyze(ctx context.Context, pool *pgxpool.Pool) error {
	tables, err := schemaTables(ctx, pool, d.schema)
	if err != nil {
		return err
	}
	statements := append([]string(nil), d.defs...)
	var indexed []string
	for _, t := range tables {
		analyze := `ANALYZE ` + pgx.Identifier{d.schema, t}.Sanitize()
		if d.tables[t] {
			indexed = append(indexed, analyze)
			continue
		}
		statements = append(statements, analyze)
	}
	return d.run(ctx, pool, append(statements, indexed...))
}

// run runs each statement in a transaction of its own, up to indexBuilders at a
// time, in their order, and fails with the first that fails: nothing reads the schema
// before the switch, which waits for them all, and a failed build fails the rebuild.
func (d *deferredIndexes) run(ctx context.Context, pool *pgxpool.Pool, statements []string) error {
	if len(statements) == 0 {
		return nil
	}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defs := make(chan string, len(statements))
	for _, def := range statements {
		defs <- def
	}
	close(defs)
	errs := make(chan error, indexBuilders)
	for range indexBuilders {
		go func() {
			for def := range defs {
				if err := buildIndex(bctx, pool, def); err != nil {
					cancel()
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range indexBuilders {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("rebuild: build the indexes and statistics of %s: %w", d.schema, first)
	}
	return nil
}

// schemaTables are the tables of a freshly loaded schema, which a rebuild analyzes to
// gather the planner's statistics before it goes live. Autovacuum would get there in
// its own time; until it did, the planner took the tables of a just-rebuilt schema for
// nearly empty and could plan a read by scanning an organization's every row (the
// grid's queries are written to stay lookups by key, but not every read is).
func schemaTables(ctx context.Context, pool *pgxpool.Pool, schema string) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, schema)
	if err != nil {
		return nil, fmt.Errorf("rebuild: list the tables of %s: %w", schema, err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("rebuild: list the tables of %s: %w", schema, err)
	}
	return tables, nil
}

// buildIndex runs one index definition (or ANALYZE) in a transaction of its own.
func buildIndex(ctx context.Context, pool *pgxpool.Pool, def string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The sort of a large audit trail fits in memory then, instead of spilling;
		// two builds at once use what one build used before.
		if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '128MB'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, def); err != nil {
			return fmt.Errorf("%s: %w", def, err)
		}
		return nil
	})
}
