package domain

// Role is a member's role in an organization.
type Role string

// The roles, lowest first.
const (
	RoleViewer Role = "viewer"
	RoleEditor Role = "editor"
	RoleAdmin  Role = "admin"
	RoleOwner  Role = "owner"
)

// Priorities of the roles, as the API contract fixes them. A platform super-admin counts
// as SuperadminPriority in every organization; ManagePriority is the bar for overriding
// ownership and for managing members, tokens, settings and the audit trail.
const (
	SuperadminPriority = 1000
	ManagePriority     = 100
)

// ParseRole accepts a role name and rejects anything else.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleViewer, RoleEditor, RoleAdmin, RoleOwner:
		return Role(s), nil
	}
	return "", Invalid("role", "must be one of owner, admin, editor, viewer")
}

// Priority is the role's rank; an unknown or empty role ranks 0.
func (r Role) Priority() int {
	switch r {
	case RoleViewer:
		return 10
	case RoleEditor:
		return 20
	case RoleAdmin:
		return 100
	case RoleOwner:
		return 200
	}
	return 0
}
