package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// writeSnapshotSQL reads a secret's row and its values with the checkpoint they
// reflect, in one statement (one snapshot): the secret's state after every event up
// to that checkpoint, and no later one. One row per environment that ever had a value
// (or one row with no environment).
const writeSnapshotSQL = `SELECT COALESCE((SELECT seq FROM projection_checkpoints WHERE name = $1), 0),
		s.name_sealed, s.description_sealed, s.owner_id::text, s.created_at, s.updated_at, s.version, s.changed_seq,
		COALESCE(v.env, ''), COALESCE(v.is_set, false), COALESCE(v.version, 0), COALESCE(v.mask, ''),
		COALESCE(v.sealed, ''), COALESCE(v.updated_at, s.created_at)
	FROM secrets s
	LEFT JOIN secret_values v ON v.org_id = s.org_id AND v.secret_id = s.id
	WHERE s.org_id = $2 AND s.id = $3`

// WriteSnapshot is a secret's state as the read models hold it, for a write that
// decides on it instead of replaying the secret's history: the state after every
// event up to checkpoint, lastSeq the stream sequence of the secret's last event (the
// expected sequence of its next append). ok is false when the read models hold no
// such secret (never created, deleted, not projected yet, or an id that is no
// secret's): the caller then reads the log. It reads the secret's rows by their key
// and opens its name and description, whatever the organization's size and the
// secret's history.
func (db *Secrets) WriteSnapshot(ctx context.Context, orgID, secretID string) (snap domain.SecretSnapshot, lastSeq, checkpoint uint64, ok bool, err error) {
	if !isUUID(orgID) || !isUUID(secretID) {
		return domain.SecretSnapshot{}, 0, 0, false, nil
	}
	var nameSealed, descSealed string
	err = db.scopedQueries(ctx, orgID, "", scopedRead{
		sql: writeSnapshotSQL, args: []any{CheckpointName, orgID, secretID},
		read: func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var (
					seq, changed     int64
					env, mask, seal  string
					set              bool
					version          int
					created, updated time.Time
					valueUpdated     time.Time
				)
				if err := rows.Scan(&seq, &nameSealed, &descSealed, &snap.OwnerID, &created, &updated, &snap.Version, &changed,
					&env, &set, &version, &mask, &seal, &valueUpdated); err != nil {
					return err
				}
				checkpoint, lastSeq, ok = uint64(seq), uint64(changed), true
				snap.CreatedAt, snap.UpdatedAt = created.UTC(), updated.UTC()
				if env == "" {
					continue
				}
				if snap.Values == nil {
					snap.Values = map[domain.Environment]domain.ValueSnapshot{}
				}
				snap.Values[domain.Environment(env)] = domain.ValueSnapshot{
					Value: domain.ValueVersion{Version: version, Mask: mask, Sealed: seal},
					Set:   set, UpdatedAt: valueUpdated.UTC(),
				}
			}
			return rows.Err()
		},
	})
	if err != nil {
		return domain.SecretSnapshot{}, 0, 0, false, fmt.Errorf("read write snapshot: %w", err)
	}
	if !ok {
		return domain.SecretSnapshot{}, 0, 0, false, nil
	}
	name, err := db.keys.Open(ctx, orgID, nameSealed, nameAAD(orgID, secretID))
	if err != nil {
		return domain.SecretSnapshot{}, 0, 0, false, fmt.Errorf("open secret name: %w", err)
	}
	desc, err := db.keys.Open(ctx, orgID, descSealed, descriptionAAD(orgID, secretID))
	if err != nil {
		return domain.SecretSnapshot{}, 0, 0, false, fmt.Errorf("open secret description: %w", err)
	}
	snap.Name, snap.Description = domain.SecretName(name), string(desc)
	return snap, lastSeq, checkpoint, true, nil
}
