package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// SecretAccess is OrgAccess and GetSecret in one round trip, for GET …/secrets/{id}.
// The caller authorizes with the role before it shows the row or the errors.
func (db *Secrets) SecretAccess(ctx context.Context, orgID, userID, secretID string) (SecretAccess, error) {
	if !isUUID(orgID) {
		return SecretAccess{OrgErr: notFound("organization"), SecretErr: notFound("secret")}, nil
	}
	var a orgAccessRow
	queries := []scopedRead{a.query(orgID, userID)}
	var found []*SecretRow
	if isUUID(secretID) {
		queries = append(queries, scopedRead{sql: secretRowsSQL, args: []any{orgID, secretID}, read: func(rows pgx.Rows) error {
			var err error
			found, err = foldSecretRows(rows, orgID)
			return err
		}})
	}
	if err := db.scopedQueries(ctx, orgID, "", queries...); err != nil {
		return SecretAccess{}, fmt.Errorf("secret access: %w", err)
	}
	var out SecretAccess
	out.Org, out.Role, out.OrgErr = a.result()
	if len(found) == 0 {
		out.SecretErr = notFound("secret")
		return out, nil
	}
	row := *found[0]
	name, err := db.keys.Open(ctx, orgID, row.Name, nameAAD(orgID, row.ID))
	if err != nil {
		return SecretAccess{}, fmt.Errorf("open name of secret %s: %w", row.ID, err)
	}
	db.names.opened.Add(1)
	row.Name = string(name)
	rows := []SecretRow{row}
	if err := db.openDescriptions(ctx, rows); err != nil {
		return SecretAccess{}, err
	}
	out.Secret = rows[0]
	return out, nil
}

// SecretAccess is what SecretAccess read: the organization and the caller's role (or
// OrgErr, not_found), and the secret (or SecretErr, not_found).
type SecretAccess struct {
	Org       Org
	Role      domain.Role
	OrgErr    error
	Secret    SecretRow
	SecretErr error
}
