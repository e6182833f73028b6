package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// applySecret projects secret events into the grid (secrets, secret_values) and the
// version history (secret_versions).
func (db *DB) applySecret(ctx context.Context, tx pgx.Tx, r domain.Recorded, notes *notices) error {
	org, id := r.OrgID, r.AggregateID
	switch e := r.Event.(type) {
	case domain.SecretCreated:
		name, err := db.keys.Seal(ctx, org, []byte(e.Name), nameAAD(org, id))
		if err != nil {
			return err
		}
		desc, err := db.keys.Seal(ctx, org, []byte(e.Description), descriptionAAD(org, id))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO secrets (org_id, id, name_sealed, description_sealed, owner_id, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $6, 1) ON CONFLICT DO NOTHING`, org, id, name, desc, e.OwnerID, r.Time); err != nil {
			return err
		}
		for _, env := range sortedEnvs(keys(e.Values)) {
			if err := setValue(ctx, tx, r, env, e.Values[env], "created", notes); err != nil {
				return err
			}
		}
		if len(e.Values) == 0 {
			notes.add(r, "secret.created", "", 0, 0)
		}
		return nil
	case domain.SecretUpdated:
		if e.Description != nil {
			desc, err := db.keys.Seal(ctx, org, []byte(*e.Description), descriptionAAD(org, id))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE secrets SET description_sealed = $3 WHERE org_id = $1 AND id = $2`, org, id, desc); err != nil {
				return err
			}
			if len(e.Set) == 0 && len(e.Removed) == 0 {
				notes.add(r, "secret.updated", "", 0, 0)
			}
		}
		for _, env := range sortedEnvs(keys(e.Set)) {
			if err := setValue(ctx, tx, r, env, e.Set[env], "updated", notes); err != nil {
				return err
			}
		}
		for _, env := range e.Removed {
			if err := removeValue(ctx, tx, r, env, notes); err != nil {
				return err
			}
		}
		return bumpSecret(ctx, tx, r)
	case domain.SecretValueDeleted:
		if err := removeValue(ctx, tx, r, e.Env, notes); err != nil {
			return err
		}
		return bumpSecret(ctx, tx, r)
	case domain.SecretRolledBack:
		if err := setValue(ctx, tx, r, e.Env, e.Value, "rolled_back", notes); err != nil {
			return err
		}
		return bumpSecret(ctx, tx, r)
	case domain.SecretDeleted:
		rows, err := tx.Query(ctx, `WITH gone AS (DELETE FROM secret_values WHERE org_id = $1 AND secret_id = $2 RETURNING env, version, is_set)
			SELECT env, version, is_set FROM gone ORDER BY array_position(ARRAY['development', 'staging', 'production'], env)`, org, id)
		if err != nil {
			return err
		}
		removed, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (oldValue, error) {
			var o oldValue
			return o, row.Scan(&o.env, &o.version, &o.set)
		})
		if err != nil {
			return err
		}
		deletedSomething := false
		for _, o := range removed {
			if o.set {
				notes.add(r, "secret.deleted", domain.Environment(o.env), o.version, 0)
				deletedSomething = true
			}
		}
		if !deletedSomething {
			notes.add(r, "secret.deleted", "", 0, 0)
		}
		_, err = tx.Exec(ctx, `DELETE FROM secrets WHERE org_id = $1 AND id = $2`, org, id)
		return err
	}
	return nil
}

func bumpSecret(ctx context.Context, tx pgx.Tx, r domain.Recorded) error {
	_, err := tx.Exec(ctx, `UPDATE secrets SET version = version + 1, updated_at = $3 WHERE org_id = $1 AND id = $2`, r.OrgID, r.AggregateID, r.Time)
	if err != nil {
		return fmt.Errorf("bump secret: %w", err)
	}
	return nil
}

type oldValue struct {
	env     string
	version int
	set     bool
}

// currentVersion is env's value version before a change, 0 when none is set.
func currentVersion(ctx context.Context, tx pgx.Tx, r domain.Recorded, env domain.Environment) (int, error) {
	var version int
	var set bool
	err := tx.QueryRow(ctx, `SELECT version, is_set FROM secret_values WHERE org_id = $1 AND secret_id = $2 AND env = $3`,
		r.OrgID, r.AggregateID, string(env)).Scan(&version, &set)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !set) {
		return 0, nil
	}
	return version, err
}

func setValue(ctx context.Context, tx pgx.Tx, r domain.Recorded, env domain.Environment, v domain.ValueVersion, action string, notes *notices) error {
	old, err := currentVersion(ctx, tx, r, env)
	if err != nil {
		return fmt.Errorf("set value: %w", err)
	}
	notes.add(r, "secret."+action, env, old, v.Version)
	_, err = tx.Exec(ctx, `INSERT INTO secret_values (org_id, secret_id, env, is_set, version, mask, sealed, updated_at)
		VALUES ($1, $2, $3, true, $4, $5, $6, $7)
		ON CONFLICT (org_id, secret_id, env) DO UPDATE SET is_set = true, version = EXCLUDED.version,
			mask = EXCLUDED.mask, sealed = EXCLUDED.sealed, updated_at = EXCLUDED.updated_at`,
		r.OrgID, r.AggregateID, string(env), v.Version, v.Mask, v.Sealed, r.Time)
	if err != nil {
		return fmt.Errorf("set value: %w", err)
	}
	return recordVersion(ctx, tx, r, env, v.Version, action, &v.Mask)
}

func removeValue(ctx context.Context, tx pgx.Tx, r domain.Recorded, env domain.Environment, notes *notices) error {
	var version int
	err := tx.QueryRow(ctx, `UPDATE secret_values SET is_set = false, mask = NULL, sealed = NULL, updated_at = $4
		WHERE org_id = $1 AND secret_id = $2 AND env = $3 RETURNING version`, r.OrgID, r.AggregateID, string(env), r.Time).Scan(&version)
	if err != nil {
		return fmt.Errorf("remove value: %w", err)
	}
	notes.add(r, "secret.deleted", env, version, 0)
	return recordVersion(ctx, tx, r, env, version, "deleted", nil)
}

func recordVersion(ctx context.Context, tx pgx.Tx, r domain.Recorded, env domain.Environment, version int, action string, mask *string) error {
	actor := r.Actor.UserID
	if actor == "" {
		actor = r.Actor.TokenID
	}
	_, err := tx.Exec(ctx, `INSERT INTO secret_versions (org_id, secret_id, env, version, action, actor_id, at, mask, seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		r.OrgID, r.AggregateID, string(env), version, action, actor, r.Time, mask, int64(r.Seq))
	if err != nil {
		return fmt.Errorf("record version: %w", err)
	}
	return nil
}
