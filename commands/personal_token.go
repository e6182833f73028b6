package commands

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// CreatePersonalToken issues a personal access token (kl_pat_…) that acts as its user.
type CreatePersonalToken struct {
	Name      string
	ExpiresAt *time.Time
}

// RevokePersonalToken ends one of the caller's personal access tokens.
type RevokePersonalToken struct {
	TokenID string
}

// PersonalTokenHandler handles both personal token commands; they share one aggregate
// and nothing else.
type PersonalTokenHandler struct {
	log eventLog
	now func() time.Time
}

// NewPersonalTokenHandler wires the handler.
func NewPersonalTokenHandler(log eventLog, now func() time.Time) *PersonalTokenHandler {
	return &PersonalTokenHandler{log: log, now: now}
}

// Create appends PersonalTokenCreated for the caller. With an Idempotency-Key the
// token's id is derived from the caller and the key, so a retry lands on the same
// aggregate and finds its first result there (Replayed, without the token: only its
// hash is recorded, and it is never handed out a second time); the key recorded with
// another request is idempotency_key_reused.
func (h *PersonalTokenHandler) Create(ctx context.Context, m Meta, c CreatePersonalToken) (IssuedToken, error) {
	if m.IdempotencyKey == "" {
		return h.create(ctx, m, c, uuid.New())
	}
	tokenID := derivedUUID("personal_token", m.UserID, m.IdempotencyKey)
	id := tokenID.String()
	// Concurrent retries race for the aggregate's first event: a loser loads it again
	// and answers the winner's result.
	return retry(ctx, func() (IssuedToken, error) {
		if res, replayed, err := earlierToken(ctx, h.log, m, personalTokenAggregate(id)); replayed || err != nil {
			return IssuedToken{Result: res}, err
		}
		return h.create(ctx, m, c, tokenID)
	})
}

// create issues the token with the given id and appends its creation, marked with
// the request's Idempotency-Key (if any). The append expects an empty aggregate.
func (h *PersonalTokenHandler) create(ctx context.Context, m Meta, c CreatePersonalToken, tokenID uuid.UUID) (IssuedToken, error) {
	id, token, hash, err := issueTokenWithID(PersonalTokenPrefix, tokenID)
	if err != nil {
		return IssuedToken{}, err
	}
	ev, err := domain.CreatePersonalToken(m.UserID, c.Name, c.ExpiresAt, hash, h.now())
	if err != nil {
		return IssuedToken{}, err
	}
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: personalTokenAggregate(id), Position: 1, Events: []domain.Event{ev}, Actor: m.actor(),
		Idempotency: m.mark(),
	})
	if err != nil {
		return IssuedToken{}, err
	}
	return IssuedToken{Result: Result{Seq: recs.Seq(), ID: id}, Token: token}, nil
}

// Revoke appends PersonalTokenRevoked when the token is the caller's.
func (h *PersonalTokenHandler) Revoke(ctx context.Context, m Meta, c RevokePersonalToken) (Result, error) {
	if err := validID("token", c.TokenID); err != nil {
		return Result{}, err
	}
	return retry(ctx, func() (Result, error) {
		l, err := h.log.Load(ctx, personalTokenAggregate(c.TokenID))
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(l.Events); ok || err != nil {
			return Result{Seq: seq, ID: c.TokenID, Replayed: true}, err
		}
		t := domain.NewPersonalToken(c.TokenID)
		for _, r := range l.Events {
			t.Apply(r)
		}
		ev, err := t.Revoke(m.UserID)
		if err != nil {
			return Result{}, err
		}
		recs, err := h.log.Append(ctx, eventstore.Pending{
			Aggregate: personalTokenAggregate(c.TokenID), ExpectedSeq: l.LastSeq, Position: l.EventCount() + 1,
			Events: []domain.Event{ev}, Actor: m.actor(), Idempotency: m.mark(),
		})
		if err != nil {
			return Result{}, err
		}
		return Result{Seq: recs.Seq(), ID: c.TokenID}, nil
	})
}
