package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
)

// AddMember adds a registered user, found by email, to an organization.
type AddMember struct {
	OrgID string
	Email string
	Role  domain.Role
}

// AddMemberHandler handles AddMember.
type AddMemberHandler struct {
	log eventLog
}

// NewAddMemberHandler wires the handler.
func NewAddMemberHandler(log eventLog) *AddMemberHandler { return &AddMemberHandler{log: log} }

// Handle appends MemberAdded. An unknown email is a validation error on field email.
func (h *AddMemberHandler) Handle(ctx context.Context, m Meta, c AddMember) (Result, error) {
	res, err := retry(ctx, func() (Result, error) {
		lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(lo.events); ok || err != nil {
			return Result{Seq: seq, ID: memberReplayID(lo, seq), Replayed: true}, err
		}
		if err := domain.Authorize(p, domain.ActionManage, domain.Target{}); err != nil {
			return Result{}, err
		}
		email, err := domain.NormalizeEmail(c.Email)
		if err != nil {
			return Result{}, err
		}
		u, err := LoadUser(ctx, h.log, UserIDForEmail(email))
		if err != nil {
			return Result{}, err
		}
		if !u.Exists() {
			return Result{}, domain.Invalid("email", "no user is registered with this email")
		}
		ev, err := lo.org.AddMember(p, u.ID(), c.Role)
		if err != nil {
			return Result{}, err
		}
		r, err := appendOrgEvents(ctx, h.log, m, lo, []domain.Event{ev}, "add_member")
		r.ID = u.ID()
		return r, err
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditMemberAdded, "", "", err)
}

// memberReplayID is the user a replayed AddMember added: the MemberAdded event the
// earlier request recorded at seq names it.
func memberReplayID(lo loadedOrg, seq uint64) string {
	for _, r := range lo.events {
		if added, ok := r.Event.(domain.MemberAdded); ok && r.Seq == seq {
			return added.UserID
		}
	}
	return ""
}
