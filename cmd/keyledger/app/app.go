package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/lease"
	"github.com/keyledger/keyledger/eventstore/natskv"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/authcache"
	"github.com/keyledger/keyledger/httpapi/webhooks"
	"github.com/keyledger/keyledger/projections"
)

// Config is what an App is built from: the platform it stands on (the log, the read
// models and the command handlers, opened by the caller), how this replica takes part
// in the cluster, and the HTTP server's settings.
type Config struct {
	// Store, DB and Commands are the platform: required. DB is the read models; the
	// app hands each consumer the part it uses (the API its ports, the webhook engine
	// the webhook roster) and runs the projector that writes them all.
	Store    *eventstore.Store
	DB       *projections.ReadModels
	Commands *commands.Handlers
	// Logger receives the app's logs; nil discards them. HTTP.Logger, when nil, is
	// left so (the server then logs nothing).
	Logger *slog.Logger

	// LeaseHolder names this replica among the others. Set, the projector and the
	// webhook engine each run only while this replica holds their lease (timed by
	// LeaseTTL, LeaseRenew and LeasePoll); empty, they run without one (a single
	// process, such as a test's).
	LeaseHolder                     string
	LeaseTTL, LeaseRenew, LeasePoll time.Duration
	// OwnNATS says that the log's NATS belongs to this process alone (embedded, its
	// data dir locked): a lease entry found there is this process's previous life
	// (kill -9), which will never renew it, so it is taken over instead of waited out.
	OwnNATS bool

	// ChangesMaxAge, when positive, sets (or updates) the change stream's retention:
	// the server owns it. Zero leaves an existing stream's as it is.
	ChangesMaxAge time.Duration
	// Webhooks, when set, runs a webhook delivery engine with this configuration; the
	// app fills in what it wires (the feed, the log, the roster, the delivery store,
	// the lease, the metrics and the logger where left unset). Nil runs none: the API
	// still records webhooks and their deliveries.
	Webhooks *webhooks.Config
	// Admin, when set, is the super-admin made sure of at start.
	Admin *Admin

	// HTTP is the server's configuration. The app fills in what it wires and the
	// caller left unset: Commands, ReadModel, Store, Keys and Unavailable; the
	// buckets beside the log (Sessions, Idempotency), the change feed, the webhook
	// deliveries, and Metrics (which the event store and the projector report into).
	HTTP httpapi.Config
	// Addr is where the server listens ("127.0.0.1:0" picks a port); TLS, when set,
	// makes it HTTPS.
	Addr string
	TLS  *tls.Config
}

// Admin is a bootstrap super-admin's login.
type Admin struct {
	Email    string
	Password string
}

// App is a running Keyledger server: the projector, the keyring's watch, the webhook
// engine and the HTTP API, wired as serve runs them. Close stops it; the platform it
// was given stays open, the caller's to close.
type App struct {
	// Server is the HTTP API.
	Server *httpapi.Server
	// Metrics is what /metrics shows.
	Metrics *httpapi.Metrics
	// Changes is the change feed the projector publishes to.
	Changes *changefeed.Changes
	// AdminCreated says that Start registered Config.Admin (it did not exist yet).
	AdminCreated bool

	cfg    Config
	log    *slog.Logger
	ln     net.Listener
	failed chan error
	served chan struct{}

	projectorLease *lease.Lease
	mu             sync.Mutex
	stopProjector  func()
	// stops end, in reverse order, what Start started besides the projector and
	// the HTTP server.
	stops []func()
}

// Start wires and starts the server. ctx bounds start-up only: what runs afterwards
// runs until Close. A failure undoes what was started and says which step failed.
func Start(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Store == nil || cfg.DB == nil || cfg.Commands == nil {
		return nil, errors.New("app: Store, DB and Commands are required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, log: logger, failed: make(chan error, 1)}
	if err := a.start(ctx); err != nil {
		a.stop()
		return nil, err
	}
	return a, nil
}

func (a *App) start(ctx context.Context) error {
	cfg := &a.cfg
	// The metrics come first: the event store and the projector report into them
	// before the server that shows them exists.
	if cfg.HTTP.Metrics == nil {
		m, err := httpapi.NewMetrics()
		if err != nil {
			return err
		}
		cfg.HTTP.Metrics = m
	}
	a.Metrics = cfg.HTTP.Metrics
	cfg.Store.ObserveAppends(a.Metrics.ObserveAppend)
	if err := cfg.Store.Keyring().CheckMaster(ctx); err != nil {
		return err
	}
	if err := a.checkReadModelsAreThisLogs(ctx); err != nil {
		return err
	}

	var opts []changefeed.ChangesOption
	if cfg.ChangesMaxAge > 0 {
		opts = append(opts, changefeed.WithChangesMaxAge(cfg.ChangesMaxAge))
	}
	changes, err := changefeed.Open(ctx, cfg.Store, opts...)
	if err != nil {
		return err
	}
	a.Changes = changes
	if err := a.openProjectorLease(ctx); err != nil {
		return err
	}
	a.StartProjector()
	a.watchKeys()
	a.moveLegacyNames()
	if err := a.startWebhooks(ctx); err != nil {
		return err
	}
	if err := a.bootstrap(ctx); err != nil {
		return err
	}
	if err := a.openStores(ctx); err != nil {
		return err
	}
	srv, err := httpapi.New(cfg.HTTP)
	if err != nil {
		if cfg.HTTP.Credentials != nil {
			cfg.HTTP.Credentials.Close()
		}
		return err
	}
	a.Server = srv
	return a.listen()
}

// openProjectorLease opens the projector's lease when this replica shares the read
// models with others: one replica projects at a time; the others stand by and take
// over within the lease's TTL (plus a poll) when it stops without releasing, at once
// when it does.
func (a *App) openProjectorLease(ctx context.Context) error {
	if a.cfg.LeaseHolder == "" {
		return nil
	}
	l, err := a.openLease(ctx, projections.CheckpointName)
	if err != nil {
		return fmt.Errorf("projector lease: %w", err)
	}
	a.projectorLease = l
	return nil
}

// openLease opens the lease name for this replica, taking over an entry of this
// process's previous life when the NATS is its own.
func (a *App) openLease(ctx context.Context, name string) (*lease.Lease, error) {
	l, err := lease.Open(ctx, a.cfg.Store, name, a.cfg.LeaseHolder, a.cfg.LeaseTTL)
	if err != nil {
		return nil, err
	}
	if a.cfg.OwnNATS {
		// Embedded NATS listens on no port and its data dir is locked by this process, so
		// no other replica can hold the lease: an entry there is a previous life of this
		// process (kill -9) that will never renew it. Waiting out its TTL would leave the
		// read models stale for seconds after every restart.
		if err := l.TakeOver(ctx); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// StartProjector runs the projector (again, after StopProjector): it resumes from the
// read models' checkpoint. It does nothing while one runs.
func (a *App) StartProjector() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopProjector != nil {
		return
	}
	p := projections.NewProjector(a.cfg.DB, a.cfg.Store, a.log).PublishChanges(a.Changes).ObserveBatches(a.Metrics)
	if a.projectorLease != nil {
		p = p.WithLease(a.projectorLease, a.cfg.LeaseRenew, a.cfg.LeasePoll)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := p.Run(ctx); err != nil {
			a.log.Error("projector stopped", "err", err)
		}
	})
	a.stopProjector = func() { cancel(); wg.Wait() }
}

// StopProjector stops the projector and waits for it: the read models stay where
// they are, as with a projector that lags, while commands are still recorded.
func (a *App) StopProjector() {
	a.mu.Lock()
	stop := a.stopProjector
	a.stopProjector = nil
	a.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// watchKeys runs the keyring's watch: it hears other replicas' data-key rotations and
// shreds, and flushes its encryption counters; it stops (with a last flush) on Close.
func (a *App) watchKeys() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			err := a.cfg.Store.Keyring().Run(ctx)
			if ctx.Err() != nil {
				return
			}
			// Without the watch this replica would seal with a rotated-away version until
			// it restarts: start it again.
			a.log.Error("keyring watch stopped; restarting it", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	})
	a.stops = append(a.stops, func() { cancel(); wg.Wait() })
}

// moveLegacyNames moves, in the background, the name reservations an earlier version
// keyed with a bare hash to keyed ones (commands' MoveLegacyNames): a no-op once none
// is left. Replicas may run it at once; it is idempotent.
func (a *App) moveLegacyNames() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		moved, err := a.cfg.Commands.CreateSecret.MoveLegacyNames(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("legacy name reservations not moved; the next start tries again", "err", err, "moved", moved.Moved, "forgotten", moved.Forgotten)
		case moved != (commands.LegacyNames{}):
			a.log.Info("legacy name reservations moved to keyed keys", "moved", moved.Moved, "forgotten", moved.Forgotten,
				"left", moved.Left, "legacy_bucket_deleted", moved.Dropped)
		}
	})
	a.stops = append(a.stops, func() { cancel(); wg.Wait() })
}

// startWebhooks opens the webhooks' delivery state, unless the HTTP configuration
// brings its own, and runs the delivery engine when Config.Webhooks asks for one: one
// replica at a time delivers, under its own lease (timed like the projector's).
// checkReadModelsAreThisLogs refuses read models that are ahead of the log: their
// checkpoint past the log's last event means they were built from another log (a new
// data dir, ./.keyledger being relative to where serve starts, pointed at an existing
// database). Such a server said it was ready, its projector took the read models from
// the real server's in turns, and its own writes never reached them. A log that cannot
// be asked yet (a cluster forming) is not held against the start.
func (a *App) checkReadModelsAreThisLogs(ctx context.Context) error {
	checkpoint, err := a.cfg.DB.Progress.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("read the read models' checkpoint: %w", err)
	}
	if checkpoint == 0 {
		return nil
	}
	head, err := a.cfg.Store.LastSeq(ctx)
	if err != nil {
		a.log.Warn("could not compare the read models with the log at start", "err", err)
		return nil
	}
	if checkpoint > head {
		return fmt.Errorf("the read models are at event %d, past this log's last event %d: the database was built from another log (another data dir?); use that log, or a new database to rebuild from this one", checkpoint, head)
	}
	return nil
}

func (a *App) startWebhooks(ctx context.Context) error {
	cfg := &a.cfg
	var hooks *webhooks.Store
	if cfg.HTTP.Webhooks == nil || cfg.Webhooks != nil {
		var err error
		if hooks, err = webhooks.OpenStore(ctx, cfg.Store, 0); err != nil {
			return fmt.Errorf("webhooks: %w", err)
		}
	}
	if cfg.HTTP.Webhooks == nil {
		cfg.HTTP.Webhooks = hooks
	}
	if cfg.Webhooks == nil {
		return nil
	}
	ec := *cfg.Webhooks
	ec.Feed, ec.Log, ec.Roster = a.Changes, cfg.Store, cfg.DB.Webhooks
	if ec.Store == nil {
		ec.Store = hooks
	}
	if ec.Logger == nil {
		ec.Logger = a.log.With("component", "webhooks")
	}
	if ec.Metrics == nil {
		wm, err := a.Metrics.Webhooks()
		if err != nil {
			return err
		}
		ec.Metrics = wm
	}
	if cfg.LeaseHolder != "" && ec.Lease == nil {
		l, err := a.openLease(ctx, webhooks.LeaseName)
		if err != nil {
			return fmt.Errorf("webhook lease: %w", err)
		}
		ec.Lease, ec.LeaseRenew, ec.LeasePoll = l, cfg.LeaseRenew, cfg.LeasePoll
	}
	stop, err := RunWebhooks(ec, a.log)
	if err != nil {
		return err
	}
	a.stops = append(a.stops, stop)
	return nil
}

// RunWebhooks runs a webhook delivery engine built from cfg until the returned stop is
// called, which waits for it.
func RunWebhooks(cfg webhooks.Config, logger *slog.Logger) (stop func(), err error) {
	engine, err := webhooks.NewEngine(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := engine.Run(ctx); err != nil && logger != nil {
			logger.Error("webhook engine stopped", "err", err)
		}
	})
	return func() { cancel(); wg.Wait() }, nil
}

// bootstrap makes sure Config.Admin exists.
func (a *App) bootstrap(ctx context.Context) error {
	admin := a.cfg.Admin
	if admin == nil {
		return nil
	}
	_, err := a.cfg.Commands.RegisterUser.Handle(ctx, commands.Meta{Actor: domain.Actor{UserAgent: "keyledger-bootstrap"}},
		commands.RegisterUser{Email: admin.Email, Name: "Administrator", Password: domain.NewPlaintext(admin.Password), Superadmin: true})
	switch {
	case err == nil:
		a.AdminCreated = true
		return nil
	case domain.IsCode(err, domain.CodeEmailTaken):
		return nil
	}
	return fmt.Errorf("bootstrap admin: %w", err)
}

// openStores completes the HTTP configuration with what the app wires. The API keeps
// sessions and remembered idempotent refusals in buckets beside the log, sealed with
// the platform key, so that every replica sees them; the sessions' bucket keeps an
// entry as long as a session lasts (SessionTTL).
func (a *App) openStores(ctx context.Context) error {
	h := &a.cfg.HTTP
	if h.Commands == nil {
		h.Commands = a.cfg.Commands
	}
	if h.ReadModel == (httpapi.ReadModel{}) {
		h.ReadModel = httpapi.ReadModelOf(a.cfg.DB)
	}
	if h.Store == nil {
		h.Store = a.cfg.Store
	}
	if h.Keys == nil {
		h.Keys = a.cfg.Store.Keyring()
	}
	if h.Unavailable == nil {
		h.Unavailable = eventstore.IsUnavailable
	}
	if h.Changes == nil {
		h.Changes = a.Changes
	}
	var err error
	if h.Sessions == nil {
		ttl := h.SessionTTL
		if ttl <= 0 {
			ttl = httpapi.DefaultSessionTTL
		}
		if h.Sessions, err = natskv.Open(ctx, a.cfg.Store, httpapi.SessionsBucket, ttl); err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
	}
	if h.Idempotency == nil {
		if h.Idempotency, err = natskv.Open(ctx, a.cfg.Store, httpapi.IdempotencyBucket, httpapi.IdempotencyTTL); err != nil {
			return fmt.Errorf("idempotency records: %w", err)
		}
	}
	if h.Credentials == nil {
		// Every replica keeps known tokens and sessions in memory; a revocation or a
		// logout answers once every replica has dropped them. The server closes it.
		opts := h.AuthCache
		opts.Replicas, opts.Logger = a.cfg.Store.Replicas(), a.cfg.Logger
		if h.Credentials, err = authcache.Open(ctx, a.cfg.Store.JetStream(), opts); err != nil {
			return fmt.Errorf("authentication cache: %w", err)
		}
	}
	return nil
}

// listen binds Addr and serves on it; a serving failure arrives on Failed.
func (a *App) listen() error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", a.cfg.Addr, err)
	}
	if a.cfg.TLS != nil {
		ln = tls.NewListener(ln, a.cfg.TLS)
	}
	a.ln = ln
	a.served = make(chan struct{})
	go func() {
		defer close(a.served)
		if err := a.Server.Listener(ln); err != nil {
			a.failed <- fmt.Errorf("http server: %w", err)
		}
	}()
	return nil
}

// Addr is the address the server listens on (with the port Addr ":0" picked).
func (a *App) Addr() string { return a.ln.Addr().String() }

// Failed delivers the HTTP server's error if it stops serving before Close.
func (a *App) Failed() <-chan error { return a.failed }

// Close stops the app in order: stop accepting HTTP and finish the requests (bounded
// by ctx), stop the webhook engine and the keyring's watch, then the projector. The
// platform (log, read models) stays open.
func (a *App) Close(ctx context.Context) error {
	var err error
	if a.Server != nil {
		if serr := a.Server.Shutdown(ctx); serr != nil {
			err = fmt.Errorf("http shutdown: %w", serr)
		}
		if a.served != nil {
			select {
			case <-a.served:
			case <-ctx.Done():
			}
		}
	}
	a.stop()
	return err
}

// stop ends what Start started besides the HTTP server, last started first.
func (a *App) stop() {
	for i := len(a.stops) - 1; i >= 0; i-- {
		a.stops[i]()
	}
	a.stops = nil
	a.StopProjector()
}
