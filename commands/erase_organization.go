package commands

import (
	"context"
	"errors"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// EraseOrganization crypto-shreds an organization: Confirm must be its exact name.
type EraseOrganization struct {
	OrgID   string
	Confirm string
}

// erasureLog is what the erasure needs beside the log: the erasure records and the
// shredding of an organization's keys.
type erasureLog interface {
	ErasureOf(ctx context.Context, orgID string) (eventstore.Erasure, bool, error)
	ShredOrganization(ctx context.Context, er eventstore.Erasure) error
}

// EraseOrganizationHandler handles EraseOrganization.
type EraseOrganizationHandler struct {
	log      eventLog
	erasures erasureLog
}

// NewEraseOrganizationHandler wires the handler.
func NewEraseOrganizationHandler(log eventLog, erasures erasureLog) *EraseOrganizationHandler {
	return &EraseOrganizationHandler{log: log, erasures: erasures}
}

// Handle records the erasure (a platform-scope record, sealed with the platform's key),
// then destroys the organization's keys; the projector drops its rows when it applies
// the record. The order makes a crash at any instant safe: before the record nothing
// happened; after it, the projector shreds the keys again (idempotently) before it
// drops the rows, on whichever replica projects, so a restart finishes the job. Once
// the erasure is recorded the organization is gone: a retry with the same
// Idempotency-Key gets the first answer, any other request not_found.
func (h *EraseOrganizationHandler) Handle(ctx context.Context, m Meta, c EraseOrganization) (Result, error) {
	if err := validID("organization", c.OrgID); err != nil {
		return Result{}, err
	}
	if res, done, err := h.alreadyErased(ctx, m, c.OrgID); done || err != nil {
		return res, err
	}
	lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
	if err != nil {
		return Result{}, err
	}
	ev, err := lo.org.Erase(p, c.Confirm)
	if err != nil {
		return Result{}, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditOrgErased, "", "", err)
	}
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: eventstore.ErasureAggregate(c.OrgID), ExpectedSeq: 0, Position: 1,
		Events: []domain.Event{ev}, Actor: m.actor(), MsgID: m.msgID("erase_org", c.OrgID), Idempotency: m.mark(),
	})
	if errors.Is(err, eventstore.ErrVersionConflict) {
		// A concurrent erasure won: the organization is gone all the same.
		if res, done, err := h.alreadyErased(ctx, m, c.OrgID); done || err != nil {
			return res, err
		}
		return Result{}, errOrgNotFound()
	}
	if err != nil {
		return Result{}, err
	}
	er := eventstore.Erasure{OrgID: c.OrgID, Seq: recs.Seq(), EventID: recs[0].EventID, Time: recs[0].Time, Actor: recs[0].Actor}
	// The erasure is recorded, so this command answers success whatever happens next
	// (a recorded command never answers an error). A failed shred here is finished by
	// the projector, which shreds before it drops the rows and stalls loudly until it can.
	_ = h.erasures.ShredOrganization(context.WithoutCancel(ctx), er)
	return Result{Seq: er.Seq, ID: c.OrgID}, nil
}

// alreadyErased answers a request for an organization whose erasure is recorded: the
// first answer for a retry with the same Idempotency-Key, else not_found. Either way it
// shreds the keys first, which finishes an erasure a crash interrupted.
func (h *EraseOrganizationHandler) alreadyErased(ctx context.Context, m Meta, orgID string) (Result, bool, error) {
	er, erased, err := h.erasures.ErasureOf(ctx, orgID)
	if err != nil || !erased {
		return Result{}, false, err
	}
	if err := h.erasures.ShredOrganization(ctx, er); err != nil {
		return Result{}, true, err
	}
	l, err := h.log.Load(ctx, eventstore.ErasureAggregate(orgID))
	if err != nil {
		return Result{}, true, err
	}
	if seq, ok, err := m.replayed(l.Events); ok || err != nil {
		return Result{Seq: seq, ID: orgID, Replayed: true}, true, err
	}
	return Result{}, true, errOrgNotFound()
}

func errOrgNotFound() error {
	return domain.Errorf(domain.CodeNotFound, "The organization was not found.")
}

// notFoundIfErased turns a load of an erased organization's aggregate into not_found:
// the organization is gone, and its events can no longer be opened.
func notFoundIfErased(err error) error {
	if errors.Is(err, eventstore.ErrErased) {
		return errOrgNotFound()
	}
	return err
}

// ErasureRecord is one organization's erasure as the log records it (who, when, from
// where, at which sequence): what the platform audit lists to super-admins.
type ErasureRecord = eventstore.Erasure
