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

// Handle loads the organization, lets it decide (domain.Organization.AddMember:
// authorization, the email, the role) and appends MemberAdded. An unknown email is a
// validation error on field email.
func (h *AddMemberHandler) Handle(ctx context.Context, m Meta, c AddMember) (Result, error) {
	res, err := retry(ctx, func() (Result, error) {
		lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
		if err != nil {
			return Result{}, err
		}
		if seq, ok, err := m.replayed(lo.events); ok || err != nil {
			return Result{Seq: seq, ID: memberReplayID(lo, seq), Replayed: true}, err
		}
		ev, err := lo.org.AddMember(ctx, p, c.Email, c.Role, registeredUsers{log: h.log})
		if err != nil {
			return Result{}, err
		}
		added, _ := ev.(domain.MemberAdded)
		r, err := appendOrgEvents(ctx, h.log, m, lo, []domain.Event{ev}, "add_member")
		r.ID = added.UserID
		return r, err
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditMemberAdded, "", "", err)
}

// registeredUsers is domain.UserDirectory on the log: a user's id derives from its
// email, so finding one is loading that aggregate.
type registeredUsers struct {
	log eventLog
}

// UserByEmail loads the user that email (normalized) names.
func (r registeredUsers) UserByEmail(ctx context.Context, email string) (string, bool, error) {
	u, err := LoadUser(ctx, r.log, UserIDForEmail(email))
	if err != nil {
		return "", false, err
	}
	return u.ID(), u.Exists(), nil
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
