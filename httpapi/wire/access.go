package wire

import "time"

// Kinds of AccessSubject.
const (
	SubjectUser         = "user"
	SubjectServiceToken = "service_token"
)

// What an AccessSubject could do to the secret.
const (
	CanReveal = "reveal"
	CanModify = "modify"
	CanDelete = "delete"
	CanFetch  = "fetch"
)

// AccessReview is the answer of GET /orgs/{org}/access: who could do what to one
// secret at instant At, computed from the log.
type AccessReview struct {
	At       time.Time `json:"at"`
	SecretID string    `json:"secret_id"`
	// SecretName is the secret's name at At; OwnerID its owner then.
	SecretName string          `json:"secret_name"`
	OwnerID    string          `json:"owner_id"`
	Subjects   []AccessSubject `json:"subjects"`
}

// AccessSubject is one user or service token with access. Personal access tokens act
// as their user and are not listed on their own.
type AccessSubject struct {
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name"`
	// Role is the user's role in the organization; absent for a platform super-admin
	// who is not a member, and for service tokens.
	Role       string `json:"role,omitempty"`
	Superadmin bool   `json:"superadmin,omitempty"`
	// Environments is a service token's scope; ExpiresAt its expiry, if any.
	Environments []string   `json:"environments,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	// Can is some of reveal, modify, delete, fetch, in that order; empty when the
	// subject can only see the secret masked.
	Can []string `json:"can"`
}
