package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// WebhookInfo describes a webhook for listing. The signing secret is never here: it
// is shown once, when the webhook is created, and kept sealed in the log only.
type WebhookInfo struct {
	ID           string
	OrgID        string
	URL          string
	Description  string
	Environments []domain.Environment
	CreatedAt    time.Time
	CreatedBy    string
	// CreatedSeq is the log sequence of the registration: the webhook receives the
	// notices of later events.
	CreatedSeq uint64
}

// Webhooks answers an organization's webhooks and, for the delivery engine, every
// organization's (WebhookRoster), with URLs and descriptions opened.
type Webhooks struct {
	*store
}

// webhookAAD binds a sealed webhook field to its webhook.
func webhookAAD(orgID, id, field string) []byte {
	return []byte("keyledger/readmodel/" + orgID + "/webhook/" + id + "/" + field)
}

func (db *writer) applyWebhooks(ctx context.Context, r domain.Recorded, w *batchTx) error {
	switch e := r.Event.(type) {
	case domain.WebhookCreated:
		u, err := db.keys.Seal(ctx, r.OrgID, []byte(e.URL), webhookAAD(r.OrgID, r.AggregateID, "url"))
		if err != nil {
			return fmt.Errorf("seal webhook url: %w", err)
		}
		d, err := db.keys.Seal(ctx, r.OrgID, []byte(e.Description), webhookAAD(r.OrgID, r.AggregateID, "description"))
		if err != nil {
			return fmt.Errorf("seal webhook description: %w", err)
		}
		envs := make([]string, len(e.Environments))
		for i, env := range e.Environments {
			envs[i] = string(env)
		}
		w.exec(`INSERT INTO webhooks (org_id, id, url_sealed, description_sealed, environments, created_at, created_by, created_seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			r.OrgID, r.AggregateID, u, d, envs, r.Time, r.Actor.UserID, int64(r.Seq))
	case domain.WebhookDeleted:
		w.exec(`DELETE FROM webhooks WHERE org_id = $1 AND id = $2`, r.OrgID, r.AggregateID)
	}
	return nil
}

const webhookColumns = `org_id::text, id::text, url_sealed, description_sealed, environments, created_at, created_by, created_seq`

func (db *Webhooks) scanWebhook(ctx context.Context, row pgx.CollectableRow) (WebhookInfo, error) {
	var w WebhookInfo
	var urlSealed, descSealed string
	var envs []string
	var seq int64
	if err := row.Scan(&w.OrgID, &w.ID, &urlSealed, &descSealed, &envs, &w.CreatedAt, &w.CreatedBy, &seq); err != nil {
		return w, err
	}
	w.CreatedSeq = uint64(seq)
	for _, e := range envs {
		w.Environments = append(w.Environments, domain.Environment(e))
	}
	u, err := db.keys.Open(ctx, w.OrgID, urlSealed, webhookAAD(w.OrgID, w.ID, "url"))
	if err != nil {
		return w, fmt.Errorf("open webhook url: %w", err)
	}
	d, err := db.keys.Open(ctx, w.OrgID, descSealed, webhookAAD(w.OrgID, w.ID, "description"))
	if err != nil {
		return w, fmt.Errorf("open webhook description: %w", err)
	}
	w.URL, w.Description = string(u), string(d)
	return w, nil
}

// ListWebhooks lists an organization's webhooks, oldest first.
func (db *Webhooks) ListWebhooks(ctx context.Context, orgID string) ([]WebhookInfo, error) {
	if !isUUID(orgID) {
		return nil, notFound("organization")
	}
	out := []WebhookInfo{}
	err := db.inOrg(ctx, orgID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE org_id = $1 ORDER BY created_seq, id`, orgID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookInfo, error) { return db.scanWebhook(ctx, r) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}

// GetWebhook is one of an organization's webhooks; not_found when it has no such one.
func (db *Webhooks) GetWebhook(ctx context.Context, orgID, id string) (WebhookInfo, error) {
	if !isUUID(orgID) || !isUUID(id) {
		return WebhookInfo{}, notFound("webhook")
	}
	var out []WebhookInfo
	err := db.inOrg(ctx, orgID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE org_id = $1 AND id = $2`, orgID, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookInfo, error) { return db.scanWebhook(ctx, r) })
		return err
	})
	if err != nil {
		return WebhookInfo{}, fmt.Errorf("get webhook: %w", err)
	}
	if len(out) == 0 {
		return WebhookInfo{}, notFound("webhook")
	}
	return out[0], nil
}

// WebhookRoster lists the webhooks of every organization, ids, filters and positions
// only (no URL): the delivery engine's roster, which takes each webhook's URL and
// secret from the log. Like the projector, it reads as the tables' owner, across
// organizations; the API never calls it.
func (db *Webhooks) WebhookRoster(ctx context.Context) ([]WebhookInfo, error) {
	var out []WebhookInfo
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setSearchPath); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT org_id::text, id::text, environments, created_seq FROM webhooks ORDER BY created_seq, id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookInfo, error) {
			var w WebhookInfo
			var envs []string
			var seq int64
			err := r.Scan(&w.OrgID, &w.ID, &envs, &seq)
			w.CreatedSeq = uint64(seq)
			for _, e := range envs {
				w.Environments = append(w.Environments, domain.Environment(e))
			}
			return w, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("webhook roster: %w", err)
	}
	return out, nil
}
