package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// UpdateOrganization renames an organization or changes its reveal policy.
type UpdateOrganization struct {
	OrgID        string
	Name         *string
	RevealPolicy *domain.RevealPolicy
}

// UpdateOrganizationHandler handles UpdateOrganization.
type UpdateOrganizationHandler struct {
	log eventLog
}

// NewUpdateOrganizationHandler wires the handler.
func NewUpdateOrganizationHandler(log eventLog) *UpdateOrganizationHandler {
	return &UpdateOrganizationHandler{log: log}
}

// Handle appends OrganizationUpdated when something changes.
func (h *UpdateOrganizationHandler) Handle(ctx context.Context, m Meta, c UpdateOrganization) (Result, error) {
	res, err := retry(ctx, func() (Result, error) {
		lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(lo.events); ok || err != nil {
			return Result{Seq: seq, ID: c.OrgID, Replayed: true}, err
		}
		evs, err := lo.org.Update(p, c.Name, c.RevealPolicy)
		if err != nil || len(evs) == 0 {
			return Result{ID: c.OrgID}, err
		}
		return appendOrgEvents(ctx, h.log, m, lo, evs, "update_org")
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditOrgUpdated, "", "", err)
}

// appendOrgEvents appends one decision's events to an organization, atomically.
func appendOrgEvents(ctx context.Context, log eventLog, m Meta, lo loadedOrg, evs []domain.Event, command string) (Result, error) {
	recs, err := log.Append(ctx, eventstore.Pending{
		Aggregate: orgAggregate(lo.org.ID()), ExpectedSeq: lo.lastSeq, Position: lo.eventCount + 1,
		Events: evs, Actor: m.actor(), MsgID: m.msgID(command, lo.org.ID()), Idempotency: m.mark(),
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Seq: recs.Seq(), ID: lo.org.ID()}, nil
}
