package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/lease"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/webhooks"
)

// startWebhooks opens the webhook delivery state and runs the delivery engine: one
// replica at a time delivers, under its own lease (timed like the projector's), and
// the others take over when it stops. The returned stop ends the engine.
func startWebhooks(ctx context.Context, c *config, p *platform, changes *changefeed.Changes, metrics *httpapi.Metrics, logger *slog.Logger) (*webhooks.Store, func(), error) {
	wm, err := metrics.Webhooks()
	if err != nil {
		return nil, nil, err
	}
	hooks, err := webhooks.OpenStore(ctx, p.store, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("webhooks: %w", err)
	}
	lease, err := lease.Open(ctx, p.store, webhooks.LeaseName, leaseHolder(), projectorLeaseTTL)
	if err != nil {
		return nil, nil, fmt.Errorf("webhook lease: %w", err)
	}
	if p.embedded != nil {
		// As for the projector: an entry there is this data dir's previous process.
		if err := lease.TakeOver(ctx); err != nil {
			return nil, nil, fmt.Errorf("webhook lease: %w", err)
		}
	}
	engine, err := webhooks.NewEngine(webhooks.Config{
		Feed: changes, Log: p.store, Roster: p.db, Store: hooks,
		Guard: webhooks.Guard{AllowPrivate: c.WebhookAllowPrivate},
		Lease: lease, LeaseRenew: projectorLeaseRenew, LeasePoll: projectorLeasePoll,
		Logger: logger.With("component", "webhooks"), Timeout: c.WebhookTimeout, Metrics: wm,
	})
	if err != nil {
		return nil, nil, err
	}
	ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := engine.Run(ectx); err != nil {
			logger.Error("webhook engine stopped", "err", err)
		}
	})
	return hooks, func() { cancel(); wg.Wait() }, nil
}
