package commands

import (
	"context"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// CreateOrganization creates an organization owned by the caller.
type CreateOrganization struct {
	Name string
	// RevealPolicy is the policy the organization starts with; empty means allowed.
	RevealPolicy domain.RevealPolicy
}

// CreateOrganizationHandler handles CreateOrganization.
type CreateOrganizationHandler struct {
	log eventLog
}

// NewCreateOrganizationHandler wires the handler.
func NewCreateOrganizationHandler(log eventLog) *CreateOrganizationHandler {
	return &CreateOrganizationHandler{log: log}
}

// Handle appends OrganizationCreated to a new aggregate. With an idempotency key the
// id derives from it, so a retry lands on the same aggregate and de-duplicates.
func (h *CreateOrganizationHandler) Handle(ctx context.Context, m Meta, c CreateOrganization) (Result, error) {
	ev, err := domain.CreateOrganization(c.Name, m.UserID, c.RevealPolicy)
	if err != nil {
		return Result{}, err
	}
	id := uuid.NewString()
	if m.IdempotencyKey != "" {
		id = derivedID("org", m.UserID, m.IdempotencyKey)
	}
	rec, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: orgAggregate(id), ExpectedSeq: 0, Version: 1,
		Event: ev, Actor: m.actor(), MsgID: m.msgID("create_org"),
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Seq: rec.Seq, ID: id}, nil
}
