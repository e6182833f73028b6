package projections

import (
	"context"
	"fmt"

	"github.com/keyledger/keyledger/domain"
)

// SecretAccess is OrgAccess and GetSecret in one read, for GET …/secrets/{id}: the
// organization, the caller's role and the secret's row from the name index, as current
// as the read models were when the call began (see SecretPageAt). The caller
// authorizes with the role before it shows the row or the errors.
func (db *Secrets) SecretAccess(ctx context.Context, orgID, userID, secretID string) (SecretAccess, error) {
	on, a, err := db.currentOrg(ctx, orgID, userID)
	if err != nil {
		return SecretAccess{}, fmt.Errorf("secret access: %w", err)
	}
	var out SecretAccess
	out.Org, out.Role, out.OrgErr = a.result()
	out.SecretErr = notFound("secret")
	if on == nil {
		return out, nil
	}
	if id, ok := parseID(secretID); ok {
		if key, ok := on.byID.get(&on.keys, id); ok {
			out.Secret, out.SecretErr = on.gridRow(key), nil
		}
	}
	on.mu.Unlock()
	return out, nil
}

// SecretAccess is what SecretAccess read: the organization and the caller's role (or
// OrgErr, not_found), and the secret (or SecretErr, not_found).
type SecretAccess struct {
	Org       Org
	Role      domain.Role
	OrgErr    error
	Secret    GridRow
	SecretErr error
}
