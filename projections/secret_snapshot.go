package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// secretSnapshotSQL reads, for each wanted secret (by its place in the array), the
// secret's row and its values' rows, with the checkpoint they reflect, in one
// statement (one snapshot): each secret's state after every event up to that
// checkpoint, and no later one. A wanted secret the read models do not hold (never
// created, deleted, not projected yet) has no row. The ids are cast as an array, as
// revealSnapshotSQL's are, so that row-level security lets the planner find each
// secret by its key.
const secretSnapshotSQL = `SELECT COALESCE((SELECT seq FROM projection_checkpoints WHERE name = $1), 0), want.i,
		s.name_sealed, s.description_sealed, s.owner_id::text, s.created_at, s.updated_at, s.version, s.changed_seq,
		COALESCE(v.env, ''), COALESCE(v.is_set, false), COALESCE(v.version, 0), COALESCE(v.mask, ''),
		COALESCE(v.sealed, ''), COALESCE(v.updated_at, s.updated_at)
	FROM unnest($3::text[]::uuid[]) WITH ORDINALITY AS want(id, i)
	JOIN secrets s ON s.org_id = $2 AND s.id = want.id
	LEFT JOIN secret_values v ON v.org_id = s.org_id AND v.secret_id = s.id`

// SecretSnapshot reads a secret's current state as the read models hold it at their
// checkpoint, with the sequence of the secret's last event (lastSeq, never above
// checkpoint) and the checkpoint itself: what an update decides on when the log holds
// no event of the secret after checkpoint (commands.UpdateSecretHandler.WithSnapshots).
// ok is false when the read models hold no such secret. The name and description are
// opened with the organization's key; the values stay sealed. It reads one secret's
// rows by their key, whatever the organization's size and the secret's history.
//
// Concurrent reads of one organization's secrets share their statement
// (sharedReads): the read begins after each of them asked, as a read of its own
// would.
func (db *Secrets) SecretSnapshot(ctx context.Context, orgID, secretID string) (st domain.SecretState, lastSeq, checkpoint uint64, ok bool, err error) {
	if !isUUID(orgID) || !isUUID(secretID) {
		return domain.SecretState{}, 0, 0, false, nil
	}
	ask := &secretSnapshotAsk{secretID: secretID, pending: newPending()}
	if err := db.snapshots.ask(ctx, db.store, orgID, ask); err != nil {
		return domain.SecretState{}, 0, 0, false, fmt.Errorf("read secret snapshot: %w", err)
	}
	if !ask.found {
		return domain.SecretState{}, 0, 0, false, nil
	}
	st = ask.state
	name, err := db.keys.Open(ctx, orgID, ask.nameSealed, nameAAD(orgID, secretID))
	if err != nil {
		return domain.SecretState{}, 0, 0, false, fmt.Errorf("read secret snapshot: name: %w", err)
	}
	desc, err := db.keys.Open(ctx, orgID, ask.descSealed, descriptionAAD(orgID, secretID))
	if err != nil {
		return domain.SecretState{}, 0, 0, false, fmt.Errorf("read secret snapshot: description: %w", err)
	}
	st.Name, st.Description = domain.SecretName(name), string(desc)
	return st, ask.lastSeq, ask.checkpoint, true, nil
}

// secretSnapshotAsk is one secret's read and, once answered (pending), its answer, the
// name and description still sealed (the asker opens them). Concurrent reads of one
// organization's secrets share their statement (sharedReads, up to
// maxSecretSnapshotAsks): updates of secrets the aggregate cache does not hold (random
// writes over a large organization) each read their secret's copy, about 0.3 ms of
// PostgreSQL's time a read on its own.
type secretSnapshotAsk struct {
	secretID string
	pending

	state                  domain.SecretState
	nameSealed, descSealed string
	lastSeq, checkpoint    uint64
	found                  bool
}

// maxSecretSnapshotAsks bounds the secrets one statement reads.
const maxSecretSnapshotAsks = 128

// readSecretSnapshots answers asks, all of orgID, with one statement.
func readSecretSnapshots(ctx context.Context, db *store, orgID string, asks []*secretSnapshotAsk) error {
	ids := make([]string, len(asks))
	for i, a := range asks {
		ids[i] = a.secretID
	}
	return db.scopedQueries(ctx, orgID, "", scopedRead{
		sql: secretSnapshotSQL, args: []any{CheckpointName, orgID, ids},
		read: func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var seq, i, changed int64
				var nameSealed, descSealed, env, mask, sealed string
				var set bool
				var version int
				var at time.Time
				var st domain.SecretState
				if err := rows.Scan(&seq, &i, &nameSealed, &descSealed, &st.OwnerID, &st.CreatedAt, &st.UpdatedAt, &st.Version, &changed,
					&env, &set, &version, &mask, &sealed, &at); err != nil {
					return err
				}
				if i < 1 || int(i) > len(asks) {
					return fmt.Errorf("secret snapshot row %d of %d asked", i, len(asks))
				}
				a := asks[i-1]
				if !a.found { // the secret's first row; the others add values
					a.state, a.nameSealed, a.descSealed = st, nameSealed, descSealed
					a.checkpoint, a.lastSeq, a.found = uint64(seq), uint64(changed), true
				}
				if env == "" {
					continue
				}
				if a.state.Values == nil {
					a.state.Values = map[domain.Environment]domain.EnvState{}
				}
				v := domain.EnvState{Set: set, UpdatedAt: at, Value: domain.ValueVersion{Version: version}}
				if set {
					v.Value.Mask, v.Value.Sealed = mask, sealed
				}
				a.state.Values[domain.Environment(env)] = v
			}
			return rows.Err()
		},
	})
}
