package webhooks

import (
	"context"
	"errors"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/httpapi/wire"
)

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

func newDelivery(t *target, n wire.ChangeNotice, retryFor time.Duration) *Delivery {
	now := time.Now().UTC()
	return &Delivery{
		ID: deliveryID(t.id, n.Seq, n.Env), OrgID: t.orgID, WebhookID: t.id, SecretID: n.SecretID, Env: n.Env,
		Seq: n.Seq, Part: n.Part, Status: StatusPending, NextAttemptAt: &now, CreatedAt: now, RetryUntil: now.Add(retryFor),
		Body: noticeBody(n),
	}
}
