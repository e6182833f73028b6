package domain

import "slices"

// Principal is who is acting in an organization: a user with the role it holds there
// (empty when it is not a member), or a platform super-admin.
type Principal struct {
	UserID     string
	Role       Role
	Superadmin bool
}

// Priority is the principal's rank in the organization.
func (p Principal) Priority() int {
	if p.Superadmin {
		return SuperadminPriority
	}
	return p.Role.Priority()
}

// IsMember reports whether the principal may see the organization at all.
func (p Principal) IsMember() bool { return p.Priority() > 0 }

// RevealPolicy is an organization's setting for revealing values.
type RevealPolicy string

// The reveal policies.
const (
	RevealAllowed  RevealPolicy = "allowed"
	RevealDisabled RevealPolicy = "disabled"
)

// ParseRevealPolicy accepts a reveal policy name.
func ParseRevealPolicy(s string) (RevealPolicy, error) {
	switch RevealPolicy(s) {
	case RevealAllowed, RevealDisabled:
		return RevealPolicy(s), nil
	}
	return "", Invalid("reveal_policy", "must be allowed or disabled")
}

// Action is something a principal may try to do in an organization.
type Action string

// The actions the policy decides.
const (
	ActionView   Action = "view"
	ActionReveal Action = "reveal"
	ActionCreate Action = "create"
	ActionModify Action = "modify"
	ActionDelete Action = "delete"
	// ActionFetch is a member's server-side fetch of an environment's values (what an
	// integration does with a service token): the same bar as a reveal.
	ActionFetch Action = "fetch"
	// ActionManage covers members, service tokens, org settings and the audit trail.
	ActionManage Action = "manage"
)

// Target is what an action applies to: a secret's owner (empty for actions that are not
// about one secret) and the organization's reveal policy.
type Target struct {
	OwnerID      string
	RevealPolicy RevealPolicy
}

// Authorize is the one permission policy, used by the commands, the API and the tests.
// A non-member gets not_found (existence is never leaked); a member whose role or
// ownership does not allow the action gets forbidden; a reveal under a disabled reveal
// policy gets reveal_disabled.
func Authorize(p Principal, a Action, t Target) error {
	if !p.IsMember() {
		return Errorf(CodeNotFound, "The organization was not found.")
	}
	prio := p.Priority()
	switch a {
	case ActionView:
		return nil
	case ActionReveal, ActionFetch:
		if t.RevealPolicy == RevealDisabled {
			return Errorf(CodeRevealDisabled, "Revealing values is disabled in this organization.")
		}
		return nil
	case ActionCreate:
		if prio >= RoleEditor.Priority() {
			return nil
		}
		return Errorf(CodeForbidden, "Your role does not allow creating secrets.")
	case ActionModify, ActionDelete:
		if prio < RoleEditor.Priority() {
			return Errorf(CodeForbidden, "Your role does not allow changing secrets.")
		}
		if prio >= ManagePriority || (t.OwnerID != "" && t.OwnerID == p.UserID) {
			return nil
		}
		return Errorf(CodeForbidden, "Only the secret's owner or an admin can change this secret.")
	case ActionManage:
		if prio >= ManagePriority {
			return nil
		}
		return Errorf(CodeForbidden, "Only owners and admins can do this.")
	}
	return Errorf(CodeForbidden, "Unknown action.")
}

// AuthorizeServiceTokenFetch is the policy for an integration's fetch of env's values
// with a service token that authenticated (usable: not revoked, not expired): the token's
// scope decides, and the organization's reveal policy, which governs people, does not.
func AuthorizeServiceTokenFetch(scope []Environment, env Environment) error {
	if slices.Contains(scope, env) {
		return nil
	}
	return Errorf(CodeForbidden, "This service token is not scoped to %s.", env)
}

// SecretPermissions are what a principal may do with one secret, as a row shows them.
type SecretPermissions struct {
	Reveal bool `json:"reveal"`
	Modify bool `json:"modify"`
	Delete bool `json:"delete"`
}

// PermissionsFor derives a row's permissions from Authorize, so that what the UI offers
// and what the API allows never disagree.
func PermissionsFor(p Principal, t Target) SecretPermissions {
	return SecretPermissions{
		Reveal: Authorize(p, ActionReveal, t) == nil,
		Modify: Authorize(p, ActionModify, t) == nil,
		Delete: Authorize(p, ActionDelete, t) == nil,
	}
}
