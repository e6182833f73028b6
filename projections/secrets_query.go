package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// EnvState is a secret's value state in one environment. Sealed is the value's
// ciphertext, for the API edge to open on an authorized reveal; it is never shown.
type EnvState struct {
	Set       bool
	Version   int
	Mask      string
	UpdatedAt time.Time
	Sealed    string
}

// SecretRow is one row of the secrets grid.
type SecretRow struct {
	ID           string
	OrgID        string
	Name         string
	Description  string
	Owner        UserRef
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Version      int
	Environments map[domain.Environment]EnvState
}

// SecretFilter narrows the grid.
type SecretFilter struct {
	// Env keeps only secrets with a value in that environment ("" = all).
	Env domain.Environment
	// Q is a case-insensitive substring of the name.
	Q      string
	Limit  int
	Cursor string
}

// Limits of a grid page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ListSecrets returns a page of the grid sorted by name (byte order). Names are sealed
// in Postgres, so filtering by q and sorting happen here, after opening them with the
// organization's data key.
func (db *DB) ListSecrets(ctx context.Context, orgID string, f SecretFilter) ([]SecretRow, string, error) {
	if !isUUID(orgID) {
		return nil, "", notFound("organization")
	}
	rows, err := db.loadSecrets(ctx, orgID, "")
	if err != nil {
		return nil, "", err
	}
	kept, next, err := pageSecrets(rows, f)
	if err != nil {
		return nil, "", err
	}
	if err := db.openDescriptions(ctx, kept); err != nil {
		return nil, "", err
	}
	return kept, next, nil
}

// GetSecret returns one row of the grid.
func (db *DB) GetSecret(ctx context.Context, orgID, secretID string) (SecretRow, error) {
	if !isUUID(orgID) || !isUUID(secretID) {
		return SecretRow{}, notFound("secret")
	}
	rows, err := db.loadSecrets(ctx, orgID, secretID)
	if err != nil {
		return SecretRow{}, err
	}
	if len(rows) == 0 {
		return SecretRow{}, notFound("secret")
	}
	if err := db.openDescriptions(ctx, rows); err != nil {
		return SecretRow{}, err
	}
	return rows[0], nil
}

// loadSecrets reads the org's secrets (or one) with their values, and opens the names.
// Descriptions stay sealed in the returned rows until openDescriptions.
func (db *DB) loadSecrets(ctx context.Context, orgID, secretID string) ([]SecretRow, error) {
	byID := map[string]*SecretRow{}
	var order []*SecretRow
	err := db.inOrg(ctx, orgID, func(tx pgx.Tx) error {
		sql := `SELECT s.id::text, s.name_sealed, s.description_sealed, s.owner_id::text, COALESCE(u.email, ''), COALESCE(u.name, ''),
				s.created_at, s.updated_at, s.version,
				v.env, v.is_set, v.version, v.mask, v.sealed, v.updated_at
			FROM secrets s
			LEFT JOIN users u ON u.id = s.owner_id
			LEFT JOIN secret_values v ON v.org_id = s.org_id AND v.secret_id = s.id
			WHERE s.org_id = $1`
		args := []any{orgID}
		if secretID != "" {
			sql += ` AND s.id = $2`
			args = append(args, secretID)
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r SecretRow
			var nameSealed, descSealed string
			var env, mask, sealed *string
			var isSet *bool
			var version *int
			var vAt *time.Time
			if err := rows.Scan(&r.ID, &nameSealed, &descSealed, &r.Owner.ID, &r.Owner.Email, &r.Owner.Name,
				&r.CreatedAt, &r.UpdatedAt, &r.Version, &env, &isSet, &version, &mask, &sealed, &vAt); err != nil {
				return err
			}
			row := byID[r.ID]
			if row == nil {
				r.OrgID = orgID
				r.Name, r.Description = nameSealed, descSealed
				r.Environments = map[domain.Environment]EnvState{}
				row = &r
				byID[r.ID] = row
				order = append(order, row)
			}
			if env != nil {
				st := EnvState{Set: *isSet, Version: *version, UpdatedAt: *vAt}
				if mask != nil {
					st.Mask = *mask
				}
				if sealed != nil {
					st.Sealed = *sealed
				}
				row.Environments[domain.Environment(*env)] = st
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("load secrets: %w", err)
	}
	out := make([]SecretRow, 0, len(order))
	for _, r := range order {
		name, err := db.keys.Open(ctx, orgID, r.Name, nameAAD(orgID, r.ID))
		if err != nil {
			return nil, fmt.Errorf("open name of secret %s: %w", r.ID, err)
		}
		r.Name = string(name)
		out = append(out, *r)
	}
	return out, nil
}

// openDescriptions replaces each row's sealed description with its text.
func (db *DB) openDescriptions(ctx context.Context, rows []SecretRow) error {
	for i := range rows {
		r := &rows[i]
		d, err := db.keys.Open(ctx, r.OrgID, r.Description, descriptionAAD(r.OrgID, r.ID))
		if err != nil {
			return fmt.Errorf("open description of secret %s: %w", r.ID, err)
		}
		r.Description = string(d)
	}
	return nil
}

// SealedValues returns every current value of one environment, still sealed, for an
// integration fetch.
func (db *DB) SealedValues(ctx context.Context, orgID string, env domain.Environment) ([]domain.StoredValue, error) {
	rows, err := db.loadSecrets(ctx, orgID, "")
	if err != nil {
		return nil, err
	}
	out := make([]domain.StoredValue, 0, len(rows))
	for _, r := range rows {
		if st := r.Environments[env]; st.Set {
			out = append(out, domain.StoredValue{SecretID: r.ID, Name: domain.SecretName(r.Name), Version: st.Version, Sealed: st.Sealed})
		}
	}
	return out, nil
}
