package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// txResolver resolves names and emails inside the projector's transaction.
type txResolver struct {
	ctx context.Context
	tx  pgx.Tx
	db  *DB
}

func (r txResolver) secretName(orgID, secretID string) (string, error) {
	var sealed string
	err := r.tx.QueryRow(r.ctx, `SELECT name_sealed FROM secret_names WHERE org_id = $1 AND secret_id = $2`, orgID, secretID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("secret name: %w", err)
	}
	name, err := r.db.keys.Open(r.ctx, orgID, sealed, nameAAD(orgID, secretID))
	if err != nil {
		return "", fmt.Errorf("open secret name: %w", err)
	}
	return string(name), nil
}

func (r txResolver) email(userID string) (string, error) {
	if !isUUID(userID) {
		return "", nil
	}
	var email string
	err := r.tx.QueryRow(r.ctx, `SELECT email FROM users WHERE id = $1`, userID).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("user email: %w", err)
	}
	return email, nil
}

// applyAudit appends an event's audit entries to its organization's chain.
func (db *DB) applyAudit(ctx context.Context, tx pgx.Tx, r domain.Recorded) error {
	if c, ok := r.Event.(domain.SecretCreated); ok {
		sealed, err := db.keys.Seal(ctx, r.OrgID, []byte(c.Name), nameAAD(r.OrgID, r.AggregateID))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO secret_names (org_id, secret_id, name_sealed) VALUES ($1, $2, $3)
			ON CONFLICT (org_id, secret_id) DO UPDATE SET name_sealed = EXCLUDED.name_sealed`, r.OrgID, r.AggregateID, sealed); err != nil {
			return fmt.Errorf("secret name: %w", err)
		}
	}
	entries, err := auditEntries(r, txResolver{ctx: ctx, tx: tx, db: db})
	if err != nil || len(entries) == 0 {
		return err
	}
	var prev string
	err = tx.QueryRow(ctx, `SELECT hash FROM audit_heads WHERE org_id = $1 FOR UPDATE`, r.OrgID).Scan(&prev)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("audit head: %w", err)
	}
	b := &pgx.Batch{}
	for _, e := range entries {
		e.PrevHash = prev
		e.Hash = chainHash(prev, e)
		prev = e.Hash
		var nameSealed *string
		if e.SecretID != "" && e.SecretName != "" {
			s, err := db.keys.Seal(ctx, r.OrgID, []byte(e.SecretName), nameAAD(r.OrgID, e.SecretID))
			if err != nil {
				return err
			}
			nameSealed = &s
		}
		b.Queue(`INSERT INTO audit_log (org_id, seq, idx, event_id, at, action, outcome, actor_id, actor_email, secret_id,
				secret_name_sealed, env, details, ip, user_agent, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT DO NOTHING`,
			e.OrgID, int64(e.Seq), e.Idx, e.EventID, e.At, e.Action, e.Outcome, e.ActorID, e.ActorEmail, nullable(e.SecretID),
			nameSealed, nullable(e.Env), e.Details, e.IP, e.UserAgent, e.PrevHash, e.Hash)
	}
	b.Queue(`INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, $2, $3)
		ON CONFLICT (org_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash`, r.OrgID, int64(r.Seq), prev)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("audit entries: %w", err)
	}
	return nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
