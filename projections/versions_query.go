package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// ValueVersionEntry is one step in the history of a secret's value in one environment.
type ValueVersionEntry struct {
	Env        domain.Environment
	Version    int
	Action     string
	ActorID    string
	ActorEmail string
	At         time.Time
	Mask       string
}

// ListVersions returns a secret's value history, newest first, optionally for one
// environment. A deleted secret keeps its history.
func (db *Secrets) ListVersions(ctx context.Context, orgID, secretID string, env domain.Environment) ([]ValueVersionEntry, error) {
	if !isUUID(orgID) || !isUUID(secretID) {
		return nil, notFound("secret")
	}
	out := []ValueVersionEntry{}
	err := db.inOrg(ctx, orgID, func(tx pgx.Tx) error {
		var known bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM secret_names WHERE org_id = $1 AND secret_id = $2)`, orgID, secretID).Scan(&known); err != nil {
			return err
		}
		if !known {
			return notFound("secret")
		}
		rows, err := tx.Query(ctx, `SELECT v.env, v.version, v.action, v.actor_id, COALESCE(u.email, ''), v.at, COALESCE(v.mask, '')
			FROM secret_versions v LEFT JOIN users u ON u.id::text = v.actor_id
			WHERE v.org_id = $1 AND v.secret_id = $2 AND ($3 = '' OR v.env = $3)
			ORDER BY v.seq DESC, v.idx DESC, v.env`, orgID, secretID, string(env))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ValueVersionEntry, error) {
			var e ValueVersionEntry
			err := r.Scan(&e.Env, &e.Version, &e.Action, &e.ActorID, &e.ActorEmail, &e.At, &e.Mask)
			return e, err
		})
		return err
	})
	if domain.IsCode(err, domain.CodeNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	return out, nil
}
