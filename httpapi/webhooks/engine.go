package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
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
// events after a sequence, in order, with names opened. eventstore.Changes is one.
type changeFeed interface {
	Follow(ctx context.Context, orgID string, afterEventSeq uint64) (<-chan eventstore.ChangeNotice, error)
}

// eventLog is where a webhook's URL and signing secret are read from.
type eventLog interface {
	Load(ctx context.Context, agg eventstore.Aggregate) (eventstore.Loaded, error)
}

// roster lists every organization's webhooks; projections.DB is one.
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

// target is a webhook as the engine delivers to it.
type target struct {
	orgID, id string
	url       string
	secret    string
	hook      *domain.Webhook
}

// active is one tenure of delivering: the index of pending deliveries, the targets and
// their feed followers.
type active struct {
	e   *Engine
	idx *index

	mu        sync.Mutex
	targets   map[string]*target
	followers map[string]context.CancelFunc
	inflight  sync.WaitGroup
	slots     chan struct{}
}

func (e *Engine) runActive(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	a := &active{e: e, idx: newIndex(), targets: map[string]*target{}, followers: map[string]context.CancelFunc{},
		slots: make(chan struct{}, e.cfg.Concurrency)}
	// Attempts in flight end with the tenure (their deliveries stay pending) before it
	// is over.
	defer func() { cancel(); a.inflight.Wait() }()
	loaded, watchErr := make(chan struct{}), make(chan error, 1)
	go func() { watchErr <- a.watch(ctx, loaded) }()
	select {
	case <-loaded:
	case err := <-watchErr:
		return err
	case <-ctx.Done():
		return nil
	}
	a.refreshRoster(ctx)
	tick := time.NewTicker(e.cfg.Tick)
	defer tick.Stop()
	roster := time.NewTicker(e.cfg.RosterEvery)
	defer roster.Stop()
	for {
		select {
		case <-ctx.Done():
			a.stopFollowers()
			return nil
		case err := <-watchErr:
			a.stopFollowers()
			return err
		case <-roster.C:
			a.refreshRoster(ctx)
		case <-tick.C:
			a.schedule(ctx)
		case <-a.idx.wake:
			// A delivery became pending or an attempt ended: no need to wait for the tick.
			a.schedule(ctx)
		}
	}
}

// watch keeps the index current from the deliveries bucket: first everything stored
// (loaded is closed then), then every change, in order.
func (a *active) watch(ctx context.Context, loaded chan struct{}) error {
	w, err := a.e.cfg.Store.deliveries.Watch(ctx, "d.>", jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("watch deliveries: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case en, ok := <-w.Updates():
			if !ok {
				return errors.New("watch deliveries: ended")
			}
			if en == nil {
				if initial {
					initial = false
					close(loaded)
				}
				continue
			}
			d, err := a.e.cfg.Store.decode(ctx, en.Key(), en.Value())
			if errors.Is(err, eventstore.ErrNoKey) || errors.Is(err, eventstore.ErrDecrypt) || errors.Is(err, errMalformed) {
				// A delivery of an organization whose keys were destroyed (or one that
				// can never be read): nothing to send.
				continue
			}
			if err != nil {
				// Skipping it could lose a delivery: the tenure starts again instead.
				return fmt.Errorf("watch deliveries: %w", err)
			}
			a.idx.apply(en.Key(), en.Revision(), d)
		}
	}
}

// refreshRoster starts following new webhooks and stops following deleted ones.
func (a *active) refreshRoster(ctx context.Context) {
	infos, err := a.e.cfg.Roster.WebhookRoster(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.e.log.Warn("webhook roster", "err", err)
		}
		return
	}
	seen := map[string]bool{}
	for _, info := range infos {
		seen[info.ID] = true
		a.mu.Lock()
		_, known := a.targets[info.ID]
		a.mu.Unlock()
		if known {
			continue
		}
		w, _, err := commands.LoadWebhook(ctx, a.e.cfg.Log, info.OrgID, info.ID)
		if err != nil {
			a.e.log.Warn("webhook: cannot read it from the log", "webhook", info.ID, "err", err)
			continue
		}
		if !w.Active() {
			continue
		}
		t := &target{orgID: info.OrgID, id: info.ID, url: w.URL(), secret: w.SigningSecret(), hook: w}
		fctx, cancel := context.WithCancel(ctx)
		a.mu.Lock()
		a.targets[info.ID], a.followers[info.ID] = t, cancel
		a.mu.Unlock()
		go a.follow(fctx, t)
	}
	var gone []*target
	a.mu.Lock()
	for id, cancel := range a.followers {
		if !seen[id] {
			cancel()
			gone = append(gone, a.targets[id])
			delete(a.followers, id)
			delete(a.targets, id)
		}
	}
	a.mu.Unlock()
	// A removed webhook's position is of no more use; its deliveries expire with the
	// bucket's age limit, and none is sent any more.
	for _, t := range gone {
		a.idx.dropWebhook(t.id)
		if err := a.e.cfg.Store.deleteCursor(ctx, t.orgID, t.id); err != nil && ctx.Err() == nil {
			a.e.log.Warn("webhook removed: cannot drop its feed position", "webhook", t.id, "err", err)
		}
	}
}

func (a *active) stopFollowers() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, cancel := range a.followers {
		cancel()
	}
}

func (a *active) known(webhookID string) bool { return a.target(webhookID) != nil }

func (a *active) target(id string) *target {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.targets[id]
}

// follow turns a webhook's notices into deliveries, from where it got last, until ctx
// ends; a feed that fails is followed again after a pause.
func (a *active) follow(ctx context.Context, t *target) {
	for {
		err := a.followOnce(ctx, t)
		if ctx.Err() != nil || errors.Is(err, errRemoved) {
			return
		}
		a.e.log.Warn("webhook feed: following again", "webhook", t.id, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (a *active) followOnce(ctx context.Context, t *target) error {
	store := a.e.cfg.Store
	cursor, err := store.cursor(ctx, t.orgID, t.id)
	if err != nil {
		return err
	}
	cursor = max(cursor, t.hook.CreatedSeq())
	feed, err := a.e.cfg.Feed.Follow(ctx, t.orgID, cursor)
	if err != nil {
		return err
	}
	hook := t.hook
	for n := range feed {
		if n.Seq <= cursor {
			continue
		}
		if n.Part == 0 {
			// The webhook as the log knows it now: a removal recorded before this event
			// (it is in the log, since this event's notice is) ends the webhook's feed
			// here, whatever the roster says yet.
			if hook, _, err = commands.LoadWebhook(ctx, a.e.cfg.Log, t.orgID, t.id); err != nil {
				return err
			}
		}
		if !hook.Receives(n.Seq) {
			if hook.DeletedSeq() != 0 {
				return errRemoved
			}
			continue
		}
		if hook.Matches(n.Env) {
			if err := store.create(ctx, newDelivery(t, n, store.retryFor)); err != nil {
				return err
			}
		}
		if n.Part >= n.Parts-1 {
			if err := store.setCursor(ctx, t.orgID, t.id, n.Seq); err != nil {
				return err
			}
			cursor = n.Seq
		}
	}
	return errors.New("the change feed ended")
}

// errRemoved ends the feed of a webhook that was removed.
var errRemoved = errors.New("webhooks: the webhook was removed")

func newDelivery(t *target, n eventstore.ChangeNotice, retryFor time.Duration) *Delivery {
	now := time.Now().UTC()
	return &Delivery{
		ID: deliveryID(t.id, n.Seq, n.Env), OrgID: t.orgID, WebhookID: t.id, SecretID: n.SecretID, Env: n.Env,
		Seq: n.Seq, Part: n.Part, Status: StatusPending, NextAttemptAt: &now, CreatedAt: now, RetryUntil: now.Add(retryFor),
		Body: noticeBody(n),
	}
}

// schedule starts the due head of every (webhook, secret) whose head is not in flight.
func (a *active) schedule(ctx context.Context) {
	now := time.Now()
	if a.e.cfg.Metrics != nil {
		a.e.cfg.Metrics.WebhookPending(a.idx.size())
	}
	for _, h := range a.idx.due(now, cap(a.slots)-len(a.slots), a.known) {
		t := a.target(h.d.WebhookID)
		if t == nil {
			continue
		}
		select {
		case a.slots <- struct{}{}:
		default:
			return
		}
		a.idx.start(h.key)
		a.inflight.Go(func() {
			defer func() { <-a.slots }()
			a.attempt(ctx, t, h)
		})
	}
}

// attempt sends one delivery and records the outcome.
func (a *active) attempt(ctx context.Context, t *target, h entry) {
	d := *h.d
	code, errText := a.e.send(ctx, t, &d)
	if ctx.Err() != nil {
		// The tenure ended mid-attempt: the delivery stays as stored, and the next
		// deliverer sends it again (at least once).
		a.idx.finish(h.key, 0)
		return
	}
	now := time.Now().UTC()
	d.Attempts++
	d.LastStatusCode, d.LastError = code, errText
	outcome := "retry"
	switch {
	case errText == "":
		d.Status, d.NextAttemptAt, outcome = StatusDelivered, nil, "delivered"
	case !now.Before(d.RetryUntil):
		d.Status, d.NextAttemptAt, outcome = StatusFailed, nil, "failed"
	default:
		next := now.Add(a.e.backoff(d.Attempts))
		d.NextAttemptAt = &next
	}
	if a.e.cfg.Metrics != nil {
		a.e.cfg.Metrics.WebhookAttempt(outcome)
	}
	rev, err := a.e.cfg.Store.update(ctx, &d, h.rev)
	if err != nil && !isWrongRevision(err) && ctx.Err() == nil {
		a.e.log.Warn("webhook delivery: cannot record the attempt", "webhook", t.id, "delivery", d.ID, "err", err)
	}
	if errText != "" {
		a.e.log.Info("webhook delivery failed", "webhook", t.id, "delivery", d.ID, "seq", d.Seq, "attempts", d.Attempts,
			"status", d.Status, "code", code, "err", errText)
	}
	a.idx.finish(h.key, rev)
}

// backoff is the wait after the attempts-th failure.
func (e *Engine) backoff(attempts int) time.Duration {
	d := e.cfg.RetryBase
	for i := 1; i < attempts && d < e.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, e.cfg.RetryMax)
}
