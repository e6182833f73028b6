package webhooks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

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
		// The stored delivery is still due: wait before it may go again, so that a NATS
		// outage does not turn into a stream of repeats at the receiver.
		select {
		case <-ctx.Done():
		case <-time.After(min(a.e.backoff(d.Attempts), 5*time.Second)):
		}
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
