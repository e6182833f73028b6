package commands

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/google/uuid"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// WebhookSecretPrefix starts every webhook signing secret, so that a leaked one is
// recognisable by secret scanners.
const WebhookSecretPrefix = "whsec_"

// CreateWebhook registers an endpoint for the organization's change notices.
type CreateWebhook struct {
	OrgID        string
	URL          string
	Environments []domain.Environment
	Description  string
	// CheckURL, when set, judges the endpoint after the decision allowed it and before
	// anything is recorded: whether its address may be reached is the network's
	// question (the API refuses loopback and private addresses). Its error is the
	// command's.
	CheckURL func(ctx context.Context, url string) error
}

// CreatedWebhook is the new webhook as the log recorded it, signing secret included:
// the API shows it once.
type CreatedWebhook struct {
	Result
	Webhook *domain.Webhook
}

// CreateWebhookHandler handles CreateWebhook.
type CreateWebhookHandler struct {
	log eventLog
}

// NewCreateWebhookHandler wires the handler.
func NewCreateWebhookHandler(log eventLog) *CreateWebhookHandler {
	return &CreateWebhookHandler{log: log}
}

// Handle appends WebhookCreated with a new signing secret. A retry with the same
// Idempotency-Key lands on the same aggregate and answers the first result, secret
// included: it is the same caller's same request, and the secret is kept (sealed) in
// the log, unlike a token's.
func (h *CreateWebhookHandler) Handle(ctx context.Context, m Meta, c CreateWebhook) (CreatedWebhook, error) {
	_, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
	if err != nil {
		return CreatedWebhook{}, err
	}
	id := uuid.NewString()
	if m.IdempotencyKey != "" {
		id = derivedID("webhook", c.OrgID, m.UserID, m.IdempotencyKey)
		l, err := h.log.Load(ctx, webhookAggregate(c.OrgID, id))
		if err != nil {
			return CreatedWebhook{}, fmt.Errorf("load webhook: %w", err)
		}
		if seq, ok, err := m.replayed(l.Events); ok || err != nil {
			if err != nil {
				return CreatedWebhook{}, err
			}
			// The replay still needs the right to manage webhooks.
			if err := domain.Authorize(p, domain.ActionManage, domain.Target{}); err != nil {
				return CreatedWebhook{}, err
			}
			return CreatedWebhook{Result: Result{Seq: seq, ID: id, Replayed: true}, Webhook: webhookOf(c.OrgID, id, l.Events)}, nil
		}
		if len(l.Events) > 0 {
			return CreatedWebhook{}, errKeyReused()
		}
	}
	secret, err := newWebhookSecret()
	if err != nil {
		return CreatedWebhook{}, err
	}
	ev, err := domain.CreateWebhook(p, c.URL, c.Environments, c.Description, secret)
	if err != nil {
		return CreatedWebhook{}, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditWebhookCreated, "", "", err)
	}
	if c.CheckURL != nil {
		if err := c.CheckURL(ctx, ev.(domain.WebhookCreated).URL); err != nil {
			return CreatedWebhook{}, err
		}
	}
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: webhookAggregate(c.OrgID, id), Position: 1, Events: []domain.Event{ev}, Actor: m.actor(),
		Idempotency: m.mark(),
	})
	if err != nil {
		return CreatedWebhook{}, err
	}
	return CreatedWebhook{Result: Result{Seq: recs.Seq(), ID: id}, Webhook: webhookOf(c.OrgID, id, recs)}, nil
}

// newWebhookSecret makes a signing secret: the prefix and 32 random bytes.
func newWebhookSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook signing secret: %w", err)
	}
	return WebhookSecretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func webhookAggregate(orgID, id string) eventstore.Aggregate {
	return eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateWebhook, ID: id}
}

func webhookOf(orgID, id string, events []domain.Recorded) *domain.Webhook {
	w := domain.NewWebhook(orgID, id)
	for _, r := range events {
		w.Apply(r)
	}
	return w
}

// aggregateLoader is the part of the event store that reads one aggregate.
type aggregateLoader interface {
	Load(ctx context.Context, agg eventstore.Aggregate) (eventstore.Loaded, error)
}

// LoadWebhook reads a webhook from the log: the delivery engine takes its URL and
// signing secret from here, the only place they are kept.
func LoadWebhook(ctx context.Context, log aggregateLoader, orgID, id string) (*domain.Webhook, uint64, error) {
	if err := validID("webhook", id); err != nil {
		return nil, 0, err
	}
	l, err := log.Load(ctx, webhookAggregate(orgID, id))
	if err != nil {
		return nil, 0, fmt.Errorf("load webhook: %w", err)
	}
	return webhookOf(orgID, id, l.Events), l.LastSeq, nil
}
