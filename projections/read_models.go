package projections

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/keyledger/keyledger/eventstore"
)

// ReadModels is the read-model database, opened once and handed out by job: each
// consumer takes the one part it uses (the API's grid takes Secrets, the webhook
// engine Webhooks, the consistency wait Progress) and sees nothing else. They share one
// connection pool; NewProjector and Rebuild write into all of them.
type ReadModels struct {
	// Pool owns the connection: health and closing.
	Pool *Pool
	// Progress is read-your-writes waiting and the live projector's health.
	Progress *Progress
	// Secrets answers the secrets grid, one secret, its versions and sealed values.
	Secrets *Secrets
	// Directory answers organizations, memberships, members and users.
	Directory *Directory
	// Audit answers the audit trail and verifies its hash chain.
	Audit *AuditTrail
	// Tokens answers service and personal tokens.
	Tokens *Tokens
	// Webhooks answers webhook registrations.
	Webhooks *Webhooks

	writer *writer
}

// Pool owns the read models' connection pool. Open applies the migrations and
// prepares the reader role through it before anything else runs.
type Pool struct {
	*store
}

// Open connects to databaseURL, applies migrations and returns the read models.
func Open(ctx context.Context, databaseURL string, keys *eventstore.Keyring, logger *slog.Logger) (*ReadModels, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	cfg.AfterConnect = planPresizedOnConnect(cfg.AfterConnect)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db := &store{pool: pool, keys: keys, log: logger}
	// migrate also prepares the reader role, under its lock: see there.
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	// The name index is shared: the grid and SecretAccess read through it, and the
	// projector drops an erased organization from it.
	names := &nameIndex{}
	progress := &Progress{store: db, advance: make(chan struct{})}
	return &ReadModels{
		Pool:     &Pool{store: db},
		Progress: progress,
		Secrets: &Secrets{store: db, names: names, fresh: &freshCheckpoints{read: db.readCheckpoint},
			reveals:   sharedReads[*snapshotAsk]{max: maxRevealAsks, read: readRevealSnapshots},
			snapshots: sharedReads[*secretSnapshotAsk]{max: maxSecretSnapshotAsks, read: readSecretSnapshots}},
		Directory: &Directory{store: db},
		Audit:     &AuditTrail{store: db},
		Tokens:    &Tokens{store: db},
		Webhooks:  &Webhooks{store: db},
		writer:    &writer{store: db, Progress: progress, names: names, nameReads: new(atomic.Int64)},
	}, nil
}

// Close closes the pool that every part shares.
func (rm *ReadModels) Close() { rm.Pool.Close() }

// Close closes the pool.
func (db *Pool) Close() { db.pool.Close() }

// Ping checks that Postgres answers.
func (db *Pool) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}
