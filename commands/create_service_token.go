package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// CreateServiceToken issues a token an integration uses to fetch one organization's
// values in the given environments.
type CreateServiceToken struct {
	OrgID        string
	Name         string
	Environments []domain.Environment
	ExpiresAt    *time.Time
}

// IssuedToken is a new token; Token is shown once and never stored.
type IssuedToken struct {
	Result
	Token string
}

// CreateServiceTokenHandler handles CreateServiceToken.
type CreateServiceTokenHandler struct {
	log eventLog
	now func() time.Time
}

// NewCreateServiceTokenHandler wires the handler.
func NewCreateServiceTokenHandler(log eventLog, now func() time.Time) *CreateServiceTokenHandler {
	return &CreateServiceTokenHandler{log: log, now: now}
}

// Handle appends ServiceTokenCreated with the hash of the new token's secret.
func (h *CreateServiceTokenHandler) Handle(ctx context.Context, m Meta, c CreateServiceToken) (IssuedToken, error) {
	_, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
	if err != nil {
		return IssuedToken{}, err
	}
	tokenID := uuid.New()
	if m.IdempotencyKey != "" {
		// A retry lands on the same aggregate and finds its first result there; the
		// token itself is never handed out a second time.
		tokenID = derivedUUID("service_token", c.OrgID, m.UserID, m.IdempotencyKey)
		if res, replayed, err := earlierToken(ctx, h.log, m, serviceTokenAggregate(c.OrgID, tokenID.String())); replayed || err != nil {
			return IssuedToken{Result: res}, err
		}
	}
	id, token, hash, err := issueTokenWithID(ServiceTokenPrefix, tokenID)
	if err != nil {
		return IssuedToken{}, err
	}
	ev, err := domain.CreateServiceToken(p, c.Name, c.Environments, c.ExpiresAt, hash, h.now())
	if err != nil {
		return IssuedToken{}, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditTokenCreated, "", "", err)
	}
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: serviceTokenAggregate(c.OrgID, id), Position: 1, Events: []domain.Event{ev}, Actor: m.actor(),
		Idempotency: m.mark(),
	})
	if err != nil {
		return IssuedToken{}, err
	}
	return IssuedToken{Result: Result{Seq: recs.Seq(), ID: id}, Token: token}, nil
}
