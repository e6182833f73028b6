package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// revealSnapshotSQL reads, for each wanted secret and environment (by its place in
// the arrays), the secret's owner and that environment's current value, with the
// checkpoint they reflect, in one statement (one snapshot): each row is its secret's
// state after every event up to that checkpoint, and no later one. A wanted secret
// the read models do not hold has no row. The ids travel as text[], cast as a whole to
// uuid[]: pgx has no binary encoding of a []string as uuid[], and building the error
// that says so, before it falls back to text, took about 2 % of the server's CPU under
// reveals. The cast is the array's, never each row's in the join: uuid_in is not
// leakproof, so under row-level security the planner may not use a join on it to find
// the secret by its key, and scans every secret instead
// (TestSnapshotReadsUseTheKeysUnderRowLevelSecurity).
const revealSnapshotSQL = `SELECT COALESCE((SELECT seq FROM projection_checkpoints WHERE name = $1), 0), want.i,
		s.owner_id::text, COALESCE(v.is_set, false), COALESCE(v.version, 0), COALESCE(v.sealed, '')
	FROM unnest($3::text[]::uuid[], $4::text[]) WITH ORDINALITY AS want(id, env, i)
	JOIN secrets s ON s.org_id = $2 AND s.id = want.id
	LEFT JOIN secret_values v ON v.org_id = s.org_id AND v.secret_id = s.id AND v.env = want.env`

// RevealSnapshot reads what a reveal of env decides on, from the read models, with the
// checkpoint they were at: the state of the secret after every event up to checkpoint.
// ok is false when the read models hold no such secret (never created, deleted, not
// projected yet, or an id that is no secret's): the caller then reads the log. It reads
// one row by its key, whatever the organization's size and the secret's history.
//
// Concurrent reveals of one organization share their reads (sharedReads): the read
// begins after each of them asked, as a read of its own would.
func (db *Secrets) RevealSnapshot(ctx context.Context, orgID, secretID string, env domain.Environment) (snap domain.RevealSnapshot, checkpoint uint64, ok bool, err error) {
	if !isUUID(orgID) || !isUUID(secretID) {
		return domain.RevealSnapshot{}, 0, false, nil
	}
	ask := &snapshotAsk{secretID: secretID, env: env, pending: newPending()}
	if err := db.reveals.ask(ctx, db.store, orgID, ask); err != nil {
		return domain.RevealSnapshot{}, 0, false, fmt.Errorf("read reveal snapshot: %w", err)
	}
	return ask.snap, ask.checkpoint, ask.found, nil
}

// snapshotAsk is one reveal's read and, once answered (pending), its answer. Concurrent
// reveals of one organization share their reads (sharedReads, up to maxRevealAsks a
// statement): a reveal's snapshot was a transaction of its own (BEGIN, the scope, the
// query, COMMIT: a round trip and four statements for PostgreSQL, about 70 us of its
// CPU at 16 clients, and the pipeline's encoding and parsing in this process).
type snapshotAsk struct {
	secretID string
	env      domain.Environment
	pending

	snap       domain.RevealSnapshot
	checkpoint uint64
	found      bool
}

// maxRevealAsks bounds the reveals one statement answers.
const maxRevealAsks = 256

// readRevealSnapshots answers asks, all of orgID, with one statement.
func readRevealSnapshots(ctx context.Context, db *store, orgID string, asks []*snapshotAsk) error {
	ids, envs := make([]string, len(asks)), make([]string, len(asks))
	for i, a := range asks {
		ids[i], envs[i] = a.secretID, string(a.env)
	}
	return db.scopedQueries(ctx, orgID, "", scopedRead{
		sql: revealSnapshotSQL, args: []any{CheckpointName, orgID, ids, envs},
		read: func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var seq, i int64
				var snap domain.RevealSnapshot
				if err := rows.Scan(&seq, &i, &snap.OwnerID, &snap.HasValue, &snap.Value.Version, &snap.Value.Sealed); err != nil {
					return err
				}
				if i < 1 || int(i) > len(asks) {
					return fmt.Errorf("reveal snapshot row %d of %d asked", i, len(asks))
				}
				if !snap.HasValue {
					snap.Value = domain.ValueVersion{}
				}
				a := asks[i-1]
				a.snap, a.checkpoint, a.found = snap, uint64(seq), true
			}
			return rows.Err()
		},
	})
}
