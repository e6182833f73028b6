package httpapi

import (
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// SecretView is a secret row as API.md shows it, without the caller's permissions:
// masks and versions, never a value or a sealed value. Offline tools (keyledger replay)
// print it too, so that their rows have the API's shape. The shape itself is the wire
// package's, shared with the Go client.
type SecretView = wire.SecretView

func envOut(st projections.EnvState) wire.EnvState {
	if !st.Set {
		return wire.EnvState{}
	}
	at := st.UpdatedAt.UTC()
	return wire.EnvState{Set: true, Version: st.Version, Mask: st.Mask, UpdatedAt: &at}
}

// SecretViewOf renders a row.
func SecretViewOf(r projections.SecretRow) SecretView {
	return SecretView{
		ID: r.ID, Name: r.Name, Description: r.Description,
		Owner:     wire.Owner{ID: r.Owner.ID, Email: r.Owner.Email, Name: r.Owner.Name},
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version,
		Environments: wire.Environments{
			Development: envOut(r.Environments[domain.Development]),
			Staging:     envOut(r.Environments[domain.Staging]),
			Production:  envOut(r.Environments[domain.Production]),
		},
	}
}

// secretOut renders a row with the permissions p has on it in an organization with
// the given reveal policy.
func secretOut(r projections.SecretRow, p domain.Principal, policy domain.RevealPolicy) wire.Secret {
	perms := domain.PermissionsFor(p, domain.Target{OwnerID: r.Owner.ID, RevealPolicy: policy})
	return wire.Secret{
		SecretView:  SecretViewOf(r),
		Permissions: wire.Permissions{Reveal: perms.Reveal, Modify: perms.Modify, Delete: perms.Delete},
	}
}

// optional is nil for an empty string: the wire's null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
