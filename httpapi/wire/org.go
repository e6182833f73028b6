package wire

import "time"

// Roles of an organization's members.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleEditor = "editor"
	RoleViewer = "viewer"
)

// Reveal policies of an organization.
const (
	RevealAllowed  = "allowed"
	RevealDisabled = "disabled"
)

// Org is an organization with the caller's role in it. Role is nil for a platform
// super-admin who is not a member.
type Org struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Role         *string   `json:"role"`
	RevealPolicy string    `json:"reveal_policy"`
	CreatedAt    time.Time `json:"created_at"`
}

// Environment is one of the three environments of every organization.
type Environment struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// Member is a user's membership of an organization.
type Member struct {
	UserID  string    `json:"user_id"`
	Email   string    `json:"email"`
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	AddedAt time.Time `json:"added_at"`
}

// User is a platform user.
type User struct {
	ID         string `json:"id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
	Superadmin bool   `json:"superadmin"`
}

// UserEnvelope is the answer to a sign-up or a user creation.
type UserEnvelope struct {
	User User `json:"user"`
}

// LoginResult is a new session: Token is a bearer token for it.
type LoginResult struct {
	User  User   `json:"user"`
	Token string `json:"token"`
	// ExpiresAt is when the session ends.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Membership is one organization the caller belongs to.
type Membership struct {
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name"`
	Role    string `json:"role"`
}

// Me is the caller and its organizations.
type Me struct {
	User        User         `json:"user"`
	Memberships []Membership `json:"memberships"`
}
