package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// RevokeServiceToken ends a service token; the next request with it is refused on every
// replica: tokens are checked against the log, and the API edge invalidates its cached
// copies on every replica before it answers (httpapi/authcache).
type RevokeServiceToken struct {
	OrgID   string
	TokenID string
}

// RevokeServiceTokenHandler handles RevokeServiceToken.
type RevokeServiceTokenHandler struct {
	log eventLog
}

// NewRevokeServiceTokenHandler wires the handler.
func NewRevokeServiceTokenHandler(log eventLog) *RevokeServiceTokenHandler {
	return &RevokeServiceTokenHandler{log: log}
}

// Handle appends ServiceTokenRevoked.
func (h *RevokeServiceTokenHandler) Handle(ctx context.Context, m Meta, c RevokeServiceToken) (Result, error) {
	res, err := retry(ctx, func() (Result, error) {
		_, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
		if err != nil {
			return Result{}, err
		}
		if err := validID("service token", c.TokenID); err != nil {
			return Result{}, err
		}
		l, err := h.log.Load(ctx, serviceTokenAggregate(c.OrgID, c.TokenID))
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(l.Events); ok || err != nil {
			return Result{Seq: seq, ID: c.TokenID, Replayed: true}, err
		}
		t := domain.NewServiceToken(c.OrgID, c.TokenID)
		for _, r := range l.Events {
			t.Apply(r)
		}
		ev, err := t.Revoke(p)
		if err != nil {
			return Result{}, err
		}
		recs, err := h.log.Append(ctx, eventstore.Pending{
			Aggregate: serviceTokenAggregate(c.OrgID, c.TokenID), ExpectedSeq: l.LastSeq, Position: l.EventCount() + 1,
			Events: []domain.Event{ev}, Actor: m.actor(), MsgID: m.msgID("revoke_service_token", c.TokenID), Idempotency: m.mark(),
		})
		if err != nil {
			return Result{}, err
		}
		return Result{Seq: recs.Seq(), ID: c.TokenID}, nil
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditTokenRevoked, "", "", err)
}
