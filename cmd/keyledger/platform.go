package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/keyledger/keyledger/projections"
	"github.com/keyledger/keyledger/projections/pgcluster"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// platform is everything the server stands on: NATS (embedded or external), the event
// store, PostgreSQL (given or a local dev cluster) and the read models. close undoes
// open in reverse order.
type platform struct {
	log      *slog.Logger
	embedded *embedded.Embedded
	nc       *nats.Conn
	store    *eventstore.Store
	names    *reservation.Reservations
	cluster  *pgcluster.Cluster
	db       *projections.ReadModels
	handlers *commands.Handlers
	closers  []func()
}

func (p *platform) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
}

// openPlatform opens the log and the read models.
func openPlatform(ctx context.Context, c *config, logger *slog.Logger) (*platform, error) {
	p, err := openLog(ctx, c, logger)
	if err != nil {
		return nil, err
	}
	if err := p.openReadModels(ctx, c); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// openLog opens the event log only: enough for replays, which need no database. A
// failure undoes what was opened so far and returns the reason; p stays a local, so
// the cleanup never runs on a result that the error return has already set to nil.
func openLog(ctx context.Context, c *config, logger *slog.Logger) (*platform, error) {
	p := &platform{log: logger}
	if err := p.openLog(ctx, c); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *platform) openLog(ctx context.Context, c *config) error {
	master, err := loadMasterKey(c, p.log)
	if err != nil {
		return err
	}
	if err := p.openNATS(ctx, c); err != nil {
		return err
	}
	opts := eventstore.Options{Replicas: c.Replicas, DataKeyMaxEncryptions: c.DataKeyMaxEncryptions, Logger: p.log}
	if p.embedded != nil {
		// The embedded server leaves the fsyncs to the store, which shares them among
		// concurrent writes (embedded.EmbeddedOptions.GroupSync).
		opts.SyncWrites = p.embedded.Sync
	}
	p.store, err = eventstore.Open(ctx, p.nc, master, opts)
	if err != nil {
		return fmt.Errorf("open the event log on %s: %w%s", natsWhere(c), err, jetStreamHint(err))
	}
	p.names, err = reservation.Open(ctx, p.store)
	if err != nil {
		return fmt.Errorf("open the name reservations on %s: %w%s", natsWhere(c), err, jetStreamHint(err))
	}
	p.handlers = commands.New(p.store, p.names, time.Now)
	// A rotation the keyring makes by itself (past --data-key-max-encryptions) is
	// recorded on the organization, as a manual one is by its command.
	p.store.Keyring().ObserveRotations(func(ctx context.Context, scope string, version int) {
		if err := p.handlers.DataKeys.RecordAutomaticRotation(ctx, scope, version); err != nil {
			p.log.WarnContext(ctx, "automatic data key rotation not recorded", "err", err)
		}
	})
	return nil
}

func (p *platform) openReadModels(ctx context.Context, c *config) error {
	dbURL, err := p.databaseURL(ctx, c)
	if err != nil {
		return err
	}
	p.db, err = projections.Open(ctx, dbURL, p.store.Keyring(), p.log)
	if err != nil {
		return fmt.Errorf("open the read models: %w", err)
	}
	p.closers = append(p.closers, p.db.Close)
	return nil
}

func loadMasterKey(c *config, logger *slog.Logger) (eventstore.MasterKey, error) {
	switch {
	case c.MasterKey != "" && c.MasterKeyFile != "":
		// Which one counts is not guessed: the variable silently won, and a start with
		// a stale variable beside the right file said nothing.
		return eventstore.MasterKey{}, errors.New("KEYLEDGER_MASTER_KEY and KEYLEDGER_MASTER_KEY_FILE (or --master-key and --master-key-file) are both set: set one")
	case c.MasterKey != "":
		k, err := eventstore.ParseMasterKey(c.MasterKey)
		if err != nil {
			return eventstore.MasterKey{}, fmt.Errorf("KEYLEDGER_MASTER_KEY: %w", err)
		}
		return k, nil
	case c.MasterKeyFile != "":
		b, err := os.ReadFile(c.MasterKeyFile)
		if err != nil {
			return eventstore.MasterKey{}, fmt.Errorf("master key file: %w", err)
		}
		k, err := eventstore.ParseMasterKey(string(b))
		if err != nil {
			return eventstore.MasterKey{}, fmt.Errorf("master key file %s: %w", c.MasterKeyFile, err)
		}
		return k, nil
	case c.Dev:
		path := filepath.Join(c.DataDir, "master.key")
		k, created, err := generateMasterKeyFile(path)
		if err != nil {
			return eventstore.MasterKey{}, fmt.Errorf("development master key %s: %w", path, err)
		}
		if created {
			logger.Warn("generated a development master key; keep it safe or lose every secret", "path", path)
		} else {
			logger.Info("using the development master key", "path", path)
		}
		return k, nil
	}
	return eventstore.MasterKey{}, errors.New("no master key: set KEYLEDGER_MASTER_KEY or KEYLEDGER_MASTER_KEY_FILE (or use --dev)")
}

// natsConnectTimeout bounds each attempt to reach an external NATS server, so that a
// closed port or a silent host ends start-up with a reason instead of a hang.
const natsConnectTimeout = 5 * time.Second

func (p *platform) openNATS(ctx context.Context, c *config) error {
	if c.NATSURL != "" {
		// nats.Connect takes no context: the timeout bounds each server's dial and
		// handshake, and without RetryOnFailedConnect a first failure is returned at once.
		nc, err := nats.Connect(c.NATSURL, nats.Name("keyledger"), nats.MaxReconnects(-1), nats.Timeout(natsConnectTimeout),
			nats.SyncQueueLen(eventstore.SyncQueueLen))
		if err != nil {
			return fmt.Errorf("connect to NATS at %s: %w", redactNATSURL(c.NATSURL), withoutURL(err))
		}
		p.nc = nc
		p.closers = append(p.closers, func() { _ = nc.Drain() })
		return nil
	}
	emb, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: filepath.Join(c.DataDir, "nats"), GroupSync: true})
	if err != nil {
		return err
	}
	p.embedded = emb
	p.closers = append(p.closers, emb.Shutdown)
	nc, err := emb.Connect("keyledger")
	if err != nil {
		return err
	}
	p.nc = nc
	p.closers = append(p.closers, func() { drain(nc) })
	return nil
}

// jetStreamHint explains the answers NATS gives when it has no JetStream to offer: "no
// responders" says nothing to someone who pointed keyledger at a plain NATS server, and
// a deadline is what a cluster without a JetStream meta leader looks like.
func jetStreamHint(err error) string {
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return " (is JetStream enabled on that NATS?)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return " (NATS did not answer in time: is JetStream enabled, and does the cluster have a meta leader?)"
	}
	return ""
}

// natsWhere names the NATS the process uses, for error messages: never with credentials.
func natsWhere(c *config) string {
	if c.NATSURL == "" {
		return "embedded NATS in " + filepath.Join(c.DataDir, "nats")
	}
	return redactNATSURL(c.NATSURL)
}

// redactNATSURL drops user names, passwords and tokens from a comma-separated list of
// NATS URLs, so that an error message can name the servers without leaking credentials.
func redactNATSURL(list string) string {
	parts := strings.Split(list, ",")
	for i, raw := range parts {
		u, err := url.Parse(strings.TrimSpace(raw))
		switch {
		case err != nil:
			parts[i] = "(unparsable URL)"
		case u.User != nil:
			u.User = nil
			parts[i] = u.String()
		default:
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// withoutURL drops the URL a *url.Error quotes, which may hold credentials, and keeps
// its reason.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// drain drains a connection and waits (bounded) until it is closed, so that the
// embedded server shuts down after every pending publish is through.
func drain(nc *nats.Conn) {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		return
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
	}
}

// databaseURL is KEYLEDGER_DATABASE_URL or, in dev mode, a local cluster under the
// data dir with a "keyledger" database.
func (p *platform) databaseURL(ctx context.Context, c *config) (string, error) {
	if c.DatabaseURL != "" {
		return c.DatabaseURL, nil
	}
	if !c.Dev {
		return "", errors.New("no database: set KEYLEDGER_DATABASE_URL (or run serve --dev)")
	}
	dir, err := devPostgresDir(c.DataDir, p.log)
	if err != nil {
		return "", err
	}
	p.log.Info("starting a local PostgreSQL for development", "dir", dir)
	cl, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Logger: p.log})
	if err != nil {
		return "", fmt.Errorf("local postgres: %w (or set KEYLEDGER_DATABASE_URL)", err)
	}
	p.cluster = cl
	p.closers = append(p.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.Stop(ctx); err != nil {
			p.log.Warn("stop local postgres", "err", err)
		}
	})
	return cl.EnsureDatabase(ctx, "keyledger")
}

// devPostgresDir is where serve --dev keeps its PostgreSQL cluster: under the data dir.
// As root, PostgreSQL runs as the postgres user, who must be able to pass through every
// directory above it: the data dir is made passable (0711, listing stays private), and
// when a parent is not (a checkout under /root), the cluster goes to /var/lib/keyledger.
func devPostgresDir(dataDir string, logger *slog.Logger) (string, error) {
	dir := filepath.Join(dataDir, "postgres")
	if os.Geteuid() != 0 {
		return dir, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	if err := os.Chmod(dataDir, 0o711); err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	for p := filepath.Dir(dataDir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("data dir: %w", err)
		}
		if info.Mode().Perm()&0o001 == 0 {
			sum := sha256.Sum256([]byte(dataDir))
			alt := filepath.Join("/var/lib/keyledger", "dev-postgres-"+hex.EncodeToString(sum[:4]))
			logger.Warn("the postgres user cannot pass through a parent of the data dir; keeping the dev database elsewhere", "parent", p, "dir", alt)
			if err := os.MkdirAll(filepath.Dir(alt), 0o711); err != nil {
				return "", fmt.Errorf("dev database dir: %w", err)
			}
			return alt, nil
		}
		if p == filepath.Dir(p) {
			return dir, nil
		}
	}
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
