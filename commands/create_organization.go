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
		l, err := h.log.Load(ctx, orgAggregate(id))
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(l.Events); ok || err != nil {
			if err == nil && !isMember(l.Events, id, m.UserID) {
				// The caller has left the organization since: a replay does not
				// tell a non-member about it.
				err = domain.Errorf(domain.CodeNotFound, "The organization was not found.")
			}
			return Result{Seq: seq, ID: id, Replayed: true}, err
		}
	}
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: orgAggregate(id), ExpectedSeq: 0, Position: 1,
		Events: []domain.Event{ev}, Actor: m.actor(), MsgID: m.msgID("create_org"), Idempotency: m.mark(),
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Seq: recs.Seq(), ID: id}, nil
}

// isMember replays an organization's events and says whether userID belongs to it.
func isMember(events []domain.Recorded, orgID, userID string) bool {
	o := domain.NewOrganization(orgID)
	for _, r := range events {
		o.Apply(r)
	}
	return o.Role(userID) != ""
}
