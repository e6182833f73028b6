package wire

import "time"

// Environment slugs: every organization has these three, in this display order.
const (
	Development = "development"
	Staging     = "staging"
	Production  = "production"
)

// SecretView is a secret row without the caller's permissions: masks and versions,
// never a value or a sealed value. Offline tools (keyledger replay) print it, so that
// their rows have the API's shape.
type SecretView struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Description  string       `json:"description"`
	Owner        Owner        `json:"owner"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
	Version      int          `json:"version"`
	Environments Environments `json:"environments"`
}

// Secret is a secret row as the API answers it: the view and what the caller may do
// with it.
type Secret struct {
	SecretView
	Permissions Permissions `json:"permissions"`
}

// Owner is the user who owns (created) a secret.
type Owner struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// Environments always has all three environments, in display order.
type Environments struct {
	Development EnvState `json:"development"`
	Staging     EnvState `json:"staging"`
	Production  EnvState `json:"production"`
}

// Env returns the state of the environment with the given slug (the zero EnvState for
// an unknown slug).
func (e Environments) Env(slug string) EnvState {
	switch slug {
	case Development:
		return e.Development
	case Staging:
		return e.Staging
	case Production:
		return e.Production
	}
	return EnvState{}
}

// EnvState is one environment of a secret: {"set": false} when it has no value, else
// the value's version, mask and time.
type EnvState struct {
	Set       bool       `json:"set"`
	Version   int        `json:"version,omitempty"`
	Mask      string     `json:"mask,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// Permissions is what the caller may do with a secret, so that a UI offers only that.
type Permissions struct {
	Reveal bool `json:"reveal"`
	Modify bool `json:"modify"`
	Delete bool `json:"delete"`
}

// Revealed is a secret's value in one environment: the one response shape (with
// Values) that carries a value.
type Revealed struct {
	Value            string `json:"value"`
	Env              string `json:"env"`
	Version          int    `json:"version"`
	HideAfterSeconds int    `json:"hide_after_seconds"`
}

// Version history actions.
const (
	ActionCreated    = "created"
	ActionUpdated    = "updated"
	ActionDeleted    = "deleted"
	ActionRolledBack = "rolled_back"
)

// Actor is who did something, as histories and the audit trail name them.
type Actor struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// SecretVersion is one entry of a secret's value history.
type SecretVersion struct {
	Env     string    `json:"env"`
	Version int       `json:"version"`
	Action  string    `json:"action"`
	Actor   Actor     `json:"actor"`
	At      time.Time `json:"at"`
	Mask    string    `json:"mask,omitempty"`
}

// Values is every value of one environment by secret name, and the stream sequence of
// the audit record the fetch made.
type Values struct {
	Values map[string]string `json:"values"`
	Seq    uint64            `json:"seq"`
}
