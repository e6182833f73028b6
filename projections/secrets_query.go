package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// Secrets answers the secrets grid (through the name index it shares with the
// projector), one secret, a secret with the caller's access, its value versions and an
// environment's sealed values.
type Secrets struct {
	*store
	names *nameIndex
}

// EnvState is a secret's value state in one environment, as the grid shows it.
type EnvState struct {
	Set       bool
	Version   int
	Mask      string
	UpdatedAt time.Time
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

// ListSecrets returns a page of the grid sorted by name (byte order). Its cost does not
// grow with the organization: names come from the name index (name_index.go), and only
// the page's rows are read and their descriptions opened.
func (db *Secrets) ListSecrets(ctx context.Context, orgID string, f SecretFilter) ([]SecretRow, string, error) {
	if !isUUID(orgID) {
		return nil, "", notFound("organization")
	}
	limit, after, err := pageBounds(f)
	if err != nil {
		return nil, "", err
	}
	q := strings.ToUpper(f.Q)
	for attempt := 0; ; attempt++ {
		var rows []SecretRow
		var next string
		err := db.inOrgSnapshot(ctx, orgID, func(tx pgx.Tx) error {
			on, err := db.lockedNames(ctx, tx, orgID)
			if err != nil {
				return err
			}
			picked, more := db.pickPage(on, f.Env, q, after, limit)
			on.mu.Unlock()
			if rows, err = db.pageRows(ctx, tx, orgID, picked); err != nil {
				return err
			}
			if more && len(picked) > 0 {
				next = encodeCursor(picked[len(picked)-1].name)
			}
			return nil
		})
		if errors.Is(err, errStaleSnapshot) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if err := db.openDescriptions(ctx, rows); err != nil {
			return nil, "", err
		}
		return rows, next, nil
	}
}

// lockedNames returns the organization's name index brought up to the snapshot of tx
// (a repeatable-read transaction), locked: the caller unlocks it. errStaleSnapshot
// means the index is newer than the snapshot; take a new one.
func (db *Secrets) lockedNames(ctx context.Context, tx pgx.Tx, orgID string) (*orgNames, error) {
	var seq int64
	var schema string
	if err := tx.QueryRow(ctx, checkpointSQL, CheckpointName).Scan(&seq, &schema); err != nil {
		return nil, fmt.Errorf("name index snapshot: %w", err)
	}
	on := db.names.org(orgID)
	on.mu.Lock()
	if err := db.syncNames(ctx, tx, orgID, on, schema, uint64(seq)); err != nil {
		on.mu.Unlock()
		return nil, err
	}
	return on, nil
}

// pickPage picks a page's entries from on, which the caller holds locked, and
// returns copies: the entries may change once the lock is given back.
func (db *Secrets) pickPage(on *orgNames, env domain.Environment, q, after string, limit int) ([]*nameEntry, bool) {
	examined := on.examined
	picked, more := on.page(env, q, after, limit)
	db.names.examined.Add(on.examined - examined)
	picked = slices.Clone(picked)
	for i, e := range picked {
		c := *e
		picked[i] = &c
	}
	return picked, more
}

// pageBounds reads a page's limit and cursor; a bad one is a validation error.
func pageBounds(f SecretFilter) (int, string, error) {
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return 0, "", domain.Invalid("limit", "must be between 1 and 1000")
	}
	if f.Cursor == "" {
		return limit, "", nil
	}
	after, err := decodeCursor(f.Cursor)
	return limit, after, err
}

// pageRows reads the grid rows of the picked secrets, in the picked order, with the
// names the index holds (the sealed ones are not opened again).
func (db *Secrets) pageRows(ctx context.Context, tx pgx.Tx, orgID string, picked []*nameEntry) ([]SecretRow, error) {
	if len(picked) == 0 {
		return []SecretRow{}, nil
	}
	ids := make([]string, len(picked))
	for i, e := range picked {
		ids[i] = e.id
	}
	found, err := scanSecrets(ctx, tx, orgID, pageRowsSQL, orgID, ids)
	if err != nil {
		return nil, err
	}
	db.names.rowsRead.Add(int64(len(found)))
	return inPickedOrder(found, picked), nil
}

// inPickedOrder is the rows read for the picked entries, in the picked order, named
// as the index names them.
func inPickedOrder(found []*SecretRow, picked []*nameEntry) []SecretRow {
	byID := make(map[string]*SecretRow, len(found))
	for _, r := range found {
		byID[r.ID] = r
	}
	out := make([]SecretRow, 0, len(picked))
	for _, e := range picked {
		if r := byID[e.id]; r != nil {
			r.Name = e.name
			out = append(out, *r)
		}
	}
	return out
}

// GetSecret returns one row of the grid: SecretAccess without a caller.
func (db *Secrets) GetSecret(ctx context.Context, orgID, secretID string) (SecretRow, error) {
	a, err := db.SecretAccess(ctx, orgID, "", secretID)
	if err != nil {
		return SecretRow{}, err
	}
	if a.SecretErr != nil {
		return SecretRow{}, a.SecretErr
	}
	return a.Secret, nil
}

// secretRowsSQL reads one secret's grid row ($2, of the organization $1) with its
// values, one row: each environment's value is a join of its own (a row per secret and
// environment cost three times the rows to fold, each column through a pointer). The
// sealed values stay in Postgres: a row shows masks, and a reveal opens the value from
// the log.
const secretRowsSQL = `SELECT s.id::text, s.name_sealed, ` + secretColumns + `
	FROM secrets s
	LEFT JOIN users u ON u.id = s.owner_id
	LEFT JOIN secret_values d ON d.org_id = s.org_id AND d.secret_id = s.id AND d.env = 'development'
	LEFT JOIN secret_values g ON g.org_id = s.org_id AND g.secret_id = s.id AND g.env = 'staging'
	LEFT JOIN secret_values p ON p.org_id = s.org_id AND p.secret_id = s.id AND p.env = 'production'
	WHERE s.org_id = $1 AND s.id = $2`

// pageRowsSQL reads the grid rows of a page's secrets (ids $2, of the organization
// $1) in $2's order, without their sealed names (the name index has them, and they
// are a fifth of a row's bytes). Every table is reached by its primary key from the
// ids, whatever the planner believes of the tables' sizes: with the statistics of a
// freshly filled read model the page's query read the organization's every secret row
// to pick a hundred, and every value row of an environment for each of them. The
// LIMIT 1s keep each lateral subquery a lookup by key per id: without them the planner
// flattens it into a join it may plan as a scan. (One secret's read keeps the plain
// joins: the lateral form cost Postgres twice the time for one row.)
const pageRowsSQL = `SELECT s.id::text, '', ` + secretColumns + `
	FROM unnest($2::uuid[]) WITH ORDINALITY AS want(id, ord)
	CROSS JOIN LATERAL (SELECT * FROM secrets WHERE org_id = $1 AND id = want.id LIMIT 1) s
	LEFT JOIN users u ON u.id = s.owner_id
	LEFT JOIN LATERAL (SELECT * FROM secret_values WHERE org_id = $1 AND secret_id = want.id AND env = 'development' LIMIT 1) d ON true
	LEFT JOIN LATERAL (SELECT * FROM secret_values WHERE org_id = $1 AND secret_id = want.id AND env = 'staging' LIMIT 1) g ON true
	LEFT JOIN LATERAL (SELECT * FROM secret_values WHERE org_id = $1 AND secret_id = want.id AND env = 'production' LIMIT 1) p ON true
	ORDER BY want.ord`

// secretColumns are a grid row's columns after its id and name, as foldSecretRows reads
// them: each environment's presence, set flag, version, mask and time.
const secretColumns = `s.description_sealed, s.owner_id::text, COALESCE(u.email, ''), COALESCE(u.name, ''),
		s.created_at, s.updated_at, s.version,
		d.env IS NOT NULL, COALESCE(d.is_set, false), COALESCE(d.version, 0), COALESCE(d.mask, ''), COALESCE(d.updated_at, 'epoch'),
		g.env IS NOT NULL, COALESCE(g.is_set, false), COALESCE(g.version, 0), COALESCE(g.mask, ''), COALESCE(g.updated_at, 'epoch'),
		p.env IS NOT NULL, COALESCE(p.is_set, false), COALESCE(p.version, 0), COALESCE(p.mask, ''), COALESCE(p.updated_at, 'epoch')`

// scanSecrets runs a secretRowsSQL query and folds its rows into one SecretRow per
// secret, in the order they come; names and descriptions stay sealed.
func scanSecrets(ctx context.Context, tx pgx.Tx, orgID, sql string, args ...any) ([]*SecretRow, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("load secrets: %w", err)
	}
	return foldSecretRows(rows, orgID)
}

// foldSecretRows reads secretRowsSQL rows, one SecretRow each, in order.
func foldSecretRows(rows pgx.Rows, orgID string) ([]*SecretRow, error) {
	defer rows.Close()
	var out []*SecretRow
	for rows.Next() {
		r := &SecretRow{OrgID: orgID}
		var envs [3]struct {
			present bool
			st      EnvState
		}
		dests := []any{&r.ID, &r.Name, &r.Description, &r.Owner.ID, &r.Owner.Email, &r.Owner.Name,
			&r.CreatedAt, &r.UpdatedAt, &r.Version}
		for i := range envs {
			e := &envs[i]
			dests = append(dests, &e.present, &e.st.Set, &e.st.Version, &e.st.Mask, &e.st.UpdatedAt)
		}
		if err := rows.Scan(dests...); err != nil {
			return nil, fmt.Errorf("load secrets: %w", err)
		}
		r.Environments = make(map[domain.Environment]EnvState, 3)
		for i, env := range gridEnvs {
			if envs[i].present {
				r.Environments[env] = envs[i].st
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load secrets: %w", err)
	}
	return out, nil
}

// openDescriptions replaces each row's sealed description with its text.
func (db *Secrets) openDescriptions(ctx context.Context, rows []SecretRow) error {
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
// integration fetch, sorted by name. Its cost is the environment's values: the names
// come from the name index (opened once per process, then only those of changed
// secrets), not from opening every name of the organization per fetch.
func (db *Secrets) SealedValues(ctx context.Context, orgID string, env domain.Environment) ([]domain.StoredValue, error) {
	if !isUUID(orgID) {
		return nil, notFound("organization")
	}
	for attempt := 0; ; attempt++ {
		var out []domain.StoredValue
		err := db.inOrgSnapshot(ctx, orgID, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT secret_id::text, version, sealed FROM secret_values
				WHERE org_id = $1 AND env = $2 AND is_set`, orgID, string(env))
			if err != nil {
				return fmt.Errorf("read values: %w", err)
			}
			out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.StoredValue, error) {
				var v domain.StoredValue
				return v, row.Scan(&v.SecretID, &v.Version, &v.Sealed)
			})
			if err != nil {
				return fmt.Errorf("read values: %w", err)
			}
			on, err := db.lockedNames(ctx, tx, orgID)
			if err != nil {
				return err
			}
			defer on.mu.Unlock()
			for i := range out {
				e := on.byID[out[i].SecretID]
				if e == nil {
					// The index and the values come from one snapshot.
					return fmt.Errorf("read values: secret %s has a value but no name in the index", out[i].SecretID)
				}
				out[i].Name = domain.SecretName(e.name)
			}
			return nil
		})
		if errors.Is(err, errStaleSnapshot) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		slices.SortFunc(out, func(a, b domain.StoredValue) int { return strings.Compare(string(a.Name), string(b.Name)) })
		return out, nil
	}
}

// gridEnvs are the environments in secretRowsSQL's column order.
var gridEnvs = [3]domain.Environment{domain.Development, domain.Staging, domain.Production}
