package httpapi

import (
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// SecretView is a secret row as API.md shows it, without the caller's permissions:
// masks and versions, never a value or a sealed value. Offline tools (keyledger replay)
// print it too, so that their rows have the API's shape.
type SecretView struct {
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	Description  string           `json:"description"`
	Owner        ownerJSON        `json:"owner"`
	CreatedAt    time.Time        `json:"created_at"`
	UpdatedAt    time.Time        `json:"updated_at"`
	Version      int              `json:"version"`
	Environments environmentsJSON `json:"environments"`
}

// secretJSON is a row with the permissions the caller has on it.
type secretJSON struct {
	SecretView
	Permissions domain.SecretPermissions `json:"permissions"`
}

type ownerJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// environmentsJSON always has all three environments, in display order.
type environmentsJSON struct {
	Development envJSON `json:"development"`
	Staging     envJSON `json:"staging"`
	Production  envJSON `json:"production"`
}

// envJSON is one environment's state: {"set": false} when it has no value.
type envJSON struct {
	Set       bool       `json:"set"`
	Version   int        `json:"version,omitempty"`
	Mask      string     `json:"mask,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

func envOut(st projections.EnvState) envJSON {
	if !st.Set {
		return envJSON{}
	}
	at := st.UpdatedAt.UTC()
	return envJSON{Set: true, Version: st.Version, Mask: st.Mask, UpdatedAt: &at}
}

// SecretViewOf renders a row.
func SecretViewOf(r projections.SecretRow) SecretView {
	return SecretView{
		ID: r.ID, Name: r.Name, Description: r.Description,
		Owner:     ownerJSON{ID: r.Owner.ID, Email: r.Owner.Email, Name: r.Owner.Name},
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version,
		Environments: environmentsJSON{
			Development: envOut(r.Environments[domain.Development]),
			Staging:     envOut(r.Environments[domain.Staging]),
			Production:  envOut(r.Environments[domain.Production]),
		},
	}
}

// secretOut renders a row with the permissions p has on it in an organization with
// the given reveal policy.
func secretOut(r projections.SecretRow, p domain.Principal, policy domain.RevealPolicy) secretJSON {
	return secretJSON{
		SecretView:  SecretViewOf(r),
		Permissions: domain.PermissionsFor(p, domain.Target{OwnerID: r.Owner.ID, RevealPolicy: policy}),
	}
}
