package webhooks

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// Defaults of the engine's tunables.
const (
	// DefaultTimeout bounds one delivery attempt, connection included.
	DefaultTimeout = 10 * time.Second
	// DefaultRetryFor is how long a failing delivery is retried: at least 24 hours, as
	// the contract promises; its last attempt is at or after that.
	DefaultRetryFor = 24 * time.Hour
	// DefaultRetryBase and DefaultRetryMax shape the backoff: base·2^(attempts-1),
	// at most max, so about 18 attempts in the first day.
	DefaultRetryBase = 10 * time.Second
	DefaultRetryMax  = time.Hour
	// LeaseName is the engine's lease in the leases bucket: one replica delivers.
	LeaseName = "webhooks"
)

// changeFeed is the change feed as the engine reads it: an organization's notices for
// events after a sequence, in order, with names opened. changefeed.Changes is one.
type changeFeed interface {
	Follow(ctx context.Context, orgID string, afterEventSeq uint64) (<-chan wire.ChangeNotice, error)
}

// eventLog is where a webhook's URL and signing secret are read from.
type eventLog interface {
	Load(ctx context.Context, agg eventstore.Aggregate) (eventstore.Loaded, error)
}

// roster lists every organization's webhooks; projections.Webhooks is one.
type roster interface {
	WebhookRoster(ctx context.Context) ([]projections.WebhookInfo, error)
}

// engineLease makes one replica the deliverer; eventstore.Lease is one.
type engineLease interface {
	TryAcquire(ctx context.Context) (bool, error)
	Renew(ctx context.Context) error
	Release(ctx context.Context) error
}

// observer hears about attempts and the backlog, for metrics (httpapi.WebhookMetrics).
type observer interface {
	WebhookAttempt(outcome string)
	WebhookPending(n int)
}

// Config is what an Engine needs. Zero tunables take their defaults.
type Config struct {
	Feed   changeFeed
	Log    eventLog
	Roster roster
	Store  *Store
	Guard  Guard
	// Lease, when set, lets the engine deliver only while it holds it, renewing it
	// every LeaseRenew and trying to take it every LeasePoll otherwise.
	Lease      engineLease
	LeaseRenew time.Duration
	LeasePoll  time.Duration
	Logger     *slog.Logger
	// Metrics, when set, hears about every attempt and the backlog.
	Metrics observer

	Timeout   time.Duration
	RetryBase time.Duration
	RetryMax  time.Duration
	// Tick is how often due deliveries are looked for; RosterEvery how often the
	// webhook roster is read again.
	Tick        time.Duration
	RosterEvery time.Duration
	// Concurrency bounds the attempts in flight at once.
	Concurrency int
}

// Engine turns change notices into deliveries and delivers them.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
}

// NewEngine wires an engine.
func NewEngine(cfg Config) (*Engine, error) {
	if cfg.Feed == nil || cfg.Log == nil || cfg.Roster == nil || cfg.Store == nil {
		return nil, errors.New("webhooks: Feed, Log, Roster and Store are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.RetryBase, DefaultRetryBase)
	def(&cfg.RetryMax, DefaultRetryMax)
	def(&cfg.Tick, 250*time.Millisecond)
	def(&cfg.RosterEvery, time.Second)
	def(&cfg.LeaseRenew, 500*time.Millisecond)
	def(&cfg.LeasePoll, 250*time.Millisecond)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, log: log, client: newClient(cfg.Guard, cfg.Timeout)}, nil
}

// newClient is the HTTP client of deliveries: every connection's address is checked
// by the guard after resolution, no proxy from the environment (it would be the one
// address checked), no redirect followed, one timeout per attempt.
func newClient(g Guard, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: g.Control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run delivers until ctx ends: always without a lease, else while it holds it.
func (e *Engine) Run(ctx context.Context) error {
	if e.cfg.Lease == nil {
		for {
			if err := e.runActive(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("webhook deliveries stopped: starting again", "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(e.cfg.LeasePoll):
			}
		}
	}
	logged := false
	for {
		held, err := e.cfg.Lease.TryAcquire(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.Warn("webhook lease: cannot reach it", "err", err)
		case held:
			logged = false
			e.runLeased(ctx)
		case !logged:
			e.log.Info("webhook deliveries standing by: another replica delivers")
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(e.cfg.LeasePoll):
		}
	}
}

func (e *Engine) runLeased(ctx context.Context) {
	e.log.Info("webhook lease acquired: delivering")
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(e.cfg.LeaseRenew)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(lctx, 2*e.cfg.LeaseRenew)
			err := e.cfg.Lease.Renew(rctx)
			rcancel()
			if err != nil && lctx.Err() == nil {
				e.log.Warn("webhook lease lost: standing by", "err", err)
				cancel()
				return
			}
		}
	})
	if err := e.runActive(lctx); err != nil && lctx.Err() == nil {
		e.log.Warn("webhook deliveries stopped", "err", err)
	}
	cancel()
	wg.Wait()
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	if err := e.cfg.Lease.Release(rctx); err != nil {
		e.log.Warn("release webhook lease", "err", err)
	}
}
