package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
)

// RemoveMember ends a user's membership.
type RemoveMember struct {
	OrgID  string
	UserID string
}

// RemoveMemberHandler handles RemoveMember.
type RemoveMemberHandler struct {
	log eventLog
}

// NewRemoveMemberHandler wires the handler.
func NewRemoveMemberHandler(log eventLog) *RemoveMemberHandler { return &RemoveMemberHandler{log: log} }

// Handle appends MemberRemoved; removing the last owner is last_owner.
func (h *RemoveMemberHandler) Handle(ctx context.Context, m Meta, c RemoveMember) (Result, error) {
	res, err := retry(ctx, func() (Result, error) {
		lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(lo.events); ok || err != nil {
			return Result{Seq: seq, ID: c.UserID, Replayed: true}, err
		}
		ev, err := lo.org.RemoveMember(p, c.UserID)
		if err != nil {
			return Result{}, err
		}
		return appendOrgEvents(ctx, h.log, m, lo, []domain.Event{ev}, "remove_member")
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditMemberRemoved, "", "", err)
}
