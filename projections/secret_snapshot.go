package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// secretSnapshotSQL reads one secret's row and its values' rows, with the checkpoint
// they reflect, in one statement (one snapshot): the secret's state after every event
// up to that checkpoint, and no later one. A secret the read models do not hold
// (never created, deleted, not projected yet) has no row.
const secretSnapshotSQL = `SELECT COALESCE((SELECT seq FROM projection_checkpoints WHERE name = $1), 0),
		s.name_sealed, s.description_sealed, s.owner_id::text, s.created_at, s.updated_at, s.version, s.changed_seq,
		COALESCE(v.env, ''), COALESCE(v.is_set, false), COALESCE(v.version, 0), COALESCE(v.mask, ''),
		COALESCE(v.sealed, ''), COALESCE(v.updated_at, s.updated_at)
	FROM secrets s
	LEFT JOIN secret_values v ON v.org_id = s.org_id AND v.secret_id = s.id
	WHERE s.org_id = $2 AND s.id = $3`

// SecretSnapshot reads a secret's current state as the read models hold it at their
// checkpoint, with the sequence of the secret's last event (lastSeq, never above
// checkpoint) and the checkpoint itself: what an update decides on when the log holds
// no event of the secret after checkpoint (commands.UpdateSecretHandler.WithSnapshots).
// ok is false when the read models hold no such secret. The name and description are
// opened with the organization's key; the values stay sealed. It reads one secret's
// rows by their key, whatever the organization's size and the secret's history.
func (db *Secrets) SecretSnapshot(ctx context.Context, orgID, secretID string) (st domain.SecretState, lastSeq, checkpoint uint64, ok bool, err error) {
	if !isUUID(orgID) || !isUUID(secretID) {
		return domain.SecretState{}, 0, 0, false, nil
	}
	var nameSealed, descSealed string
	err = db.scopedQueries(ctx, orgID, "", scopedRead{
		sql: secretSnapshotSQL, args: []any{CheckpointName, orgID, secretID},
		read: func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var seq, changed int64
				var env, mask, sealed string
				var set bool
				var version int
				var at time.Time
				if err := rows.Scan(&seq, &nameSealed, &descSealed, &st.OwnerID, &st.CreatedAt, &st.UpdatedAt, &st.Version, &changed,
					&env, &set, &version, &mask, &sealed, &at); err != nil {
					return err
				}
				checkpoint, lastSeq, ok = uint64(seq), uint64(changed), true
				if env == "" {
					continue
				}
				if st.Values == nil {
					st.Values = map[domain.Environment]domain.EnvState{}
				}
				v := domain.EnvState{Set: set, UpdatedAt: at, Value: domain.ValueVersion{Version: version}}
				if set {
					v.Value.Mask, v.Value.Sealed = mask, sealed
				}
				st.Values[domain.Environment(env)] = v
			}
			return rows.Err()
		},
	})
	if err != nil {
		return domain.SecretState{}, 0, 0, false, fmt.Errorf("read secret snapshot: %w", err)
	}
	if !ok {
		return domain.SecretState{}, 0, 0, false, nil
	}
	name, err := db.keys.Open(ctx, orgID, nameSealed, nameAAD(orgID, secretID))
	if err != nil {
		return domain.SecretState{}, 0, 0, false, fmt.Errorf("read secret snapshot: name: %w", err)
	}
	desc, err := db.keys.Open(ctx, orgID, descSealed, descriptionAAD(orgID, secretID))
	if err != nil {
		return domain.SecretState{}, 0, 0, false, fmt.Errorf("read secret snapshot: description: %w", err)
	}
	st.Name, st.Description = domain.SecretName(name), string(desc)
	return st, lastSeq, checkpoint, true, nil
}
