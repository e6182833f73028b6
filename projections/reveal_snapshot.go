package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// revealSnapshotSQL reads a secret's owner and one environment's current value with
// the checkpoint they reflect, in one statement (one snapshot): the row is the
// secret's state after every event up to that checkpoint, and no later one.
const revealSnapshotSQL = `SELECT COALESCE((SELECT seq FROM projection_checkpoints WHERE name = $1), 0),
		s.owner_id::text, COALESCE(v.is_set, false), COALESCE(v.version, 0), COALESCE(v.sealed, '')
	FROM secrets s
	LEFT JOIN secret_values v ON v.org_id = s.org_id AND v.secret_id = s.id AND v.env = $4
	WHERE s.org_id = $2 AND s.id = $3`

// RevealSnapshot reads what a reveal of env decides on, from the read models, with the
// checkpoint they were at: the state of the secret after every event up to checkpoint.
// ok is false when the read models hold no such secret (never created, deleted, not
// projected yet, or an id that is no secret's): the caller then reads the log. It reads
// one row by its key, whatever the organization's size and the secret's history.
func (db *Secrets) RevealSnapshot(ctx context.Context, orgID, secretID string, env domain.Environment) (snap domain.RevealSnapshot, checkpoint uint64, ok bool, err error) {
	if !isUUID(orgID) || !isUUID(secretID) {
		return domain.RevealSnapshot{}, 0, false, nil
	}
	err = db.scopedQueries(ctx, orgID, "", scopedRead{
		sql: revealSnapshotSQL, args: []any{CheckpointName, orgID, secretID, string(env)},
		read: func(rows pgx.Rows) error {
			defer rows.Close()
			if !rows.Next() {
				return rows.Err()
			}
			var seq int64
			if err := rows.Scan(&seq, &snap.OwnerID, &snap.HasValue, &snap.Value.Version, &snap.Value.Sealed); err != nil {
				return err
			}
			checkpoint, ok = uint64(seq), true
			return rows.Err()
		},
	})
	if err != nil {
		return domain.RevealSnapshot{}, 0, false, fmt.Errorf("read reveal snapshot: %w", err)
	}
	if !snap.HasValue {
		snap.Value = domain.ValueVersion{}
	}
	return snap, checkpoint, ok, nil
}
