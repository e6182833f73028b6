package wire

import "time"

// IssuedToken is a new token (personal kl_pat_… or service kl_st_…); Token is shown
// in this response only.
type IssuedToken struct {
	ID        string     `json:"id"`
	Token     string     `json:"token"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// PersonalToken is a personal access token as listed, without the token.
type PersonalToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
}

// ServiceToken is a service token as listed; Token is set in the creation response
// only.
type ServiceToken struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Environments []string   `json:"environments"`
	ExpiresAt    *time.Time `json:"expires_at"`
	CreatedAt    time.Time  `json:"created_at"`
	// CreatedBy is the id of the user who created it.
	CreatedBy string `json:"created_by"`
	Token     string `json:"token,omitempty"`
}

// ServiceTokenMe is GET /me asked with a service token: the token and the one
// organization it belongs to, so that an integration can turn an organization's name
// into its id (as `keyledger run --org NAME` does) and check its own scope. A user's
// GET /me is Me.
type ServiceTokenMe struct {
	ServiceToken ServiceTokenSelf `json:"service_token"`
}

// ServiceTokenSelf is the calling service token as GET /me describes it: never the
// token itself.
type ServiceTokenSelf struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	OrgID        string     `json:"org_id"`
	OrgName      string     `json:"org_name"`
	Environments []string   `json:"environments"`
	ExpiresAt    *time.Time `json:"expires_at"`
}
