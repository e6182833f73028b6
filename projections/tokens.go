package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// ServiceTokenInfo describes a service token; the token itself is never stored.
type ServiceTokenInfo struct {
	ID           string
	Name         string
	Environments []domain.Environment
	ExpiresAt    *time.Time
	CreatedAt    time.Time
	CreatedBy    string
	RevokedAt    *time.Time
}

// PersonalTokenInfo describes a personal access token.
type PersonalTokenInfo struct {
	ID        string
	Name      string
	ExpiresAt *time.Time
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Tokens answers an organization's service tokens and a user's personal tokens
// (never a token's secret: only its hash is in the log).
type Tokens struct {
	*store
}

func applyTokens(r domain.Recorded, w *batchTx) {
	switch e := r.Event.(type) {
	case domain.ServiceTokenCreated:
		envs := make([]string, len(e.Environments))
		for i, env := range e.Environments {
			envs[i] = string(env)
		}
		w.exec(`INSERT INTO service_tokens (org_id, id, name, environments, expires_at, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, r.OrgID, r.AggregateID, e.Name, envs, e.ExpiresAt, r.Time, r.Actor.UserID)
	case domain.ServiceTokenRevoked:
		w.exec(`UPDATE service_tokens SET revoked_at = $3 WHERE org_id = $1 AND id = $2`, r.OrgID, r.AggregateID, r.Time)
	case domain.PersonalTokenCreated:
		w.exec(`INSERT INTO personal_tokens (id, user_id, name, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`, r.AggregateID, e.UserID, e.Name, e.ExpiresAt, r.Time)
	case domain.PersonalTokenRevoked:
		w.exec(`UPDATE personal_tokens SET revoked_at = $2 WHERE id = $1`, r.AggregateID, r.Time)
	}
}

// ListServiceTokens lists an organization's service tokens that are not revoked,
// newest first.
func (db *Tokens) ListServiceTokens(ctx context.Context, orgID string) ([]ServiceTokenInfo, error) {
	if !isUUID(orgID) {
		return nil, notFound("organization")
	}
	out := []ServiceTokenInfo{}
	err := db.inOrg(ctx, orgID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text, name, environments, expires_at, created_at, created_by, revoked_at
			FROM service_tokens WHERE org_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id`, orgID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ServiceTokenInfo, error) {
			var t ServiceTokenInfo
			var envs []string
			err := r.Scan(&t.ID, &t.Name, &envs, &t.ExpiresAt, &t.CreatedAt, &t.CreatedBy, &t.RevokedAt)
			for _, e := range envs {
				t.Environments = append(t.Environments, domain.Environment(e))
			}
			return t, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list service tokens: %w", err)
	}
	return out, nil
}

// ListPersonalTokens lists a user's personal access tokens that are not revoked.
func (db *Tokens) ListPersonalTokens(ctx context.Context, userID string) ([]PersonalTokenInfo, error) {
	if !isUUID(userID) {
		return []PersonalTokenInfo{}, nil
	}
	out := []PersonalTokenInfo{}
	err := db.asUser(ctx, userID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text, name, expires_at, created_at, revoked_at FROM personal_tokens
			WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id`, userID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (PersonalTokenInfo, error) {
			var t PersonalTokenInfo
			return t, r.Scan(&t.ID, &t.Name, &t.ExpiresAt, &t.CreatedAt, &t.RevokedAt)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list personal tokens: %w", err)
	}
	return out, nil
}
