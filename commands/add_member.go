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
		r, err := appendOrgEvent(ctx, h.log, m, lo, ev, "add_member")
		r.ID = u.ID()
		return r, err
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditMemberAdded, "", "", err)
}
