package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// DeleteWebhook removes a webhook: nothing more is sent to it, pending deliveries
// included.
type DeleteWebhook struct {
	OrgID     string
	WebhookID string
}

// DeleteWebhookHandler handles DeleteWebhook.
type DeleteWebhookHandler struct {
	log eventLog
}

// NewDeleteWebhookHandler wires the handler.
func NewDeleteWebhookHandler(log eventLog) *DeleteWebhookHandler {
	return &DeleteWebhookHandler{log: log}
}

// Handle appends WebhookDeleted.
func (h *DeleteWebhookHandler) Handle(ctx context.Context, m Meta, c DeleteWebhook) (Result, error) {
	res, err := retry(ctx, func() (Result, error) {
		_, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
		if err != nil {
			return Result{}, err
		}
		if err := validID("webhook", c.WebhookID); err != nil {
			return Result{}, err
		}
		l, err := h.log.Load(ctx, webhookAggregate(c.OrgID, c.WebhookID))
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(l.Events); ok || err != nil {
			return Result{Seq: seq, ID: c.WebhookID, Replayed: true}, err
		}
		ev, err := webhookOf(c.OrgID, c.WebhookID, l.Events).Delete(p)
		if err != nil {
			return Result{}, err
		}
		recs, err := h.log.Append(ctx, eventstore.Pending{
			Aggregate: webhookAggregate(c.OrgID, c.WebhookID), ExpectedSeq: l.LastSeq, Position: l.EventCount() + 1,
			Events: []domain.Event{ev}, Actor: m.actor(), MsgID: m.msgID("delete_webhook", c.WebhookID), Idempotency: m.mark(),
		})
		if err != nil {
			return Result{}, err
		}
		return Result{Seq: recs.Seq(), ID: c.WebhookID}, nil
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditWebhookDeleted, "", "", err)
}
