package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
)

// ChangeMemberRole gives a member another role.
type ChangeMemberRole struct {
	OrgID  string
	UserID string
	Role   domain.Role
}

// ChangeMemberRoleHandler handles ChangeMemberRole.
type ChangeMemberRoleHandler struct {
	log eventLog
}

// NewChangeMemberRoleHandler wires the handler.
func NewChangeMemberRoleHandler(log eventLog) *ChangeMemberRoleHandler {
	return &ChangeMemberRoleHandler{log: log}
}

// Handle appends MemberRoleChanged; demoting the last owner is last_owner.
func (h *ChangeMemberRoleHandler) Handle(ctx context.Context, m Meta, c ChangeMemberRole) (Result, error) {
	res, err := retry(ctx, func() (Result, error) {
		lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(lo.events); ok || err != nil {
			return Result{Seq: seq, ID: c.UserID, Replayed: true}, err
		}
		evs, err := lo.org.ChangeRole(p, c.UserID, c.Role)
		if err != nil || len(evs) == 0 {
			return Result{ID: c.UserID}, err
		}
		r, err := appendOrgEvents(ctx, h.log, m, lo, evs, "change_role")
		r.ID = c.UserID
		return r, err
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditMemberRoleChanged, "", "", err)
}
