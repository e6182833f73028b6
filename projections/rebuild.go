package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// streamHead tells how far the log goes.
type streamHead interface {
	LastSeq(ctx context.Context) (uint64, error)
}

// RebuildReport says what a rebuild did.
type RebuildReport struct {
	Schema     string        `json:"schema"`
	OldSchema  string        `json:"old_schema"`
	Events     uint64        `json:"events"`
	Duration   time.Duration `json:"duration_ns"`
	EventsPerS float64       `json:"events_per_second"`
}

// Rebuild replays the whole log into a fresh schema while the live read models keep
// answering, then switches every reader and the live projector to it in one
// transaction. The schema it replaced is dropped by the next rebuild. The switch holds the live checkpoint's row
// lock, so no event lands in the old schema alone.
func (rm *ReadModels) Rebuild(ctx context.Context, events eventFollower, head streamHead, logger *slog.Logger) (RebuildReport, error) {
	db := rm.writer
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	started := time.Now()
	schema := "keyledger_rm_" + strconv.FormatInt(started.UnixNano(), 36)
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return RebuildReport{}, fmt.Errorf("rebuild: %w", err)
	}
	err = migrateSchema(ctx, conn.Conn(), schema, logger)
	releaseMigrationConn(ctx, conn, err != nil)
	if err != nil {
		return RebuildReport{}, err
	}
	load, closeLoad, err := db.rebuildWriter(ctx)
	if err != nil {
		return RebuildReport{}, err
	}
	defer closeLoad()
	indexes, err := deferIndexes(ctx, load.pool, schema)
	if err != nil {
		return RebuildReport{}, err
	}
	var progress atomic.Uint64
	batch := rebuildBatch
	if load.rebuildBatch > 0 {
		batch = load.rebuildBatch
	}
	p := &Projector{db: load, events: events, log: logger, schema: schema, batch: batch, onApplied: func(seq uint64) { progress.Store(seq) }}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(pctx)
	}()
	defer func() { stop(); <-done }()

	target, err := head.LastSeq(ctx)
	if err != nil {
		return RebuildReport{}, err
	}
	if err := waitProgress(ctx, &progress, target); err != nil {
		return RebuildReport{}, err
	}
	// Before the switch, and failing the rebuild if it fails: the schema never goes
	// live without every index its migrations declare.
	loaded := time.Now()
	if err := indexes.restoreAndAnalyze(ctx, load.pool); err != nil {
		return RebuildReport{}, err
	}
	logger.Info("rebuild loaded, indexes built", "schema", schema, "events", target, "load", loaded.Sub(started), "indexes", time.Since(loaded))
	old, err := db.switchTo(ctx, schema, &progress)
	if err != nil {
		return RebuildReport{}, err
	}
	stop()
	<-done
	db.dropStaleSchemas(ctx, schema, old, logger)
	d := time.Since(started)
	n := progress.Load()
	logger.Info("read models rebuilt", "schema", schema, "events", n, "took", d)
	return RebuildReport{Schema: schema, OldSchema: old, Events: n, Duration: d, EventsPerS: float64(n) / d.Seconds()}, nil
}

// dropStaleSchemas drops read-model schemas older than the one just replaced. The
// replaced one is kept until the next rebuild: readers that began before the switch may
// still be in it, and dropping tables under them would deadlock with their locks.
func (db *writer) dropStaleSchemas(ctx context.Context, live, previous string, logger *slog.Logger) {
	rows, err := db.pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'keyledger\_rm\_%' AND nspname <> ALL($1)`, []string{live, previous})
	if err != nil {
		logger.Warn("list old read-model schemas", "err", err)
		return
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		logger.Warn("list old read-model schemas", "err", err)
		return
	}
	for _, s := range stale {
		if _, err := db.pool.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{s}.Sanitize()+` CASCADE`); err != nil {
			logger.Warn("drop old read-model schema", "schema", s, "err", err)
		}
	}
}

func waitProgress(ctx context.Context, progress *atomic.Uint64, target uint64) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for progress.Load() < target {
		select {
		case <-ctx.Done():
			return fmt.Errorf("rebuild at %d of %d: %w", progress.Load(), target, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// switchTo points the read models at schema once it has caught up with the live ones.
func (db *writer) switchTo(ctx context.Context, schema string, progress *atomic.Uint64) (string, error) {
	var old string
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT schema FROM `+pointerTable+` WHERE id = 1 FOR UPDATE`).Scan(&old); err != nil {
			return err
		}
		var live, fence int64
		err := tx.QueryRow(ctx, `SELECT seq, fence FROM `+pgx.Identifier{old, "projection_checkpoints"}.Sanitize()+` WHERE name = $1 FOR UPDATE`, CheckpointName).Scan(&live, &fence)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := waitProgress(ctx, progress, uint64(live)); err != nil {
			return err
		}
		// The fence moves with the read models: without it, a paused former lease
		// holder could commit into the new schema until the live holder's next batch.
		// It also fences the rebuild's own projector off the schema it no longer owns.
		_, err = tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "projection_checkpoints"}.Sanitize()+` (name, seq, fence) VALUES ($1, 0, $2)
			ON CONFLICT (name) DO UPDATE SET fence = GREATEST(EXCLUDED.fence, `+pgx.Identifier{schema, "projection_checkpoints"}.Sanitize()+`.fence)`,
			CheckpointName, fence)
		if err != nil {
			return err
		}
		// Change notices the live projector committed and its outbox has not published
		// yet move with the read models: its publisher reads the live schema's outbox.
		_, err = tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "change_outbox"}.Sanitize()+`
			SELECT * FROM `+pgx.Identifier{old, "change_outbox"}.Sanitize()+` ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE `+pointerTable+` SET schema = $1, switched_at = now() WHERE id = 1`, schema)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("switch read models to %s: %w", schema, err)
	}
	return old, nil
}
