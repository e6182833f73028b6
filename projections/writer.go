package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// writer is what a projector writes with: the connection, the grid's name index (an
// erased organization leaves it) and the live Progress it reports to. A rebuild's
// projector writes into its own schema with a writer of its own (rebuildWriter: the
// same keys and name index on a pool of its own) and reports elsewhere.
type writer struct {
	*store
	*Progress
	names *nameIndex
	// valueReads counts the round trips batches made for the value versions that
	// change notices name as replaced (a test pins their shape).
	valueReads atomic.Int64
	// statements counts the statements batches sent in their pipelines of writes (a
	// test pins their shape: one per table for a batch of creates, not one per row).
	statements atomic.Int64
	// bulk is set on a rebuild's writer: it loads a schema nobody reads yet, and
	// copies audit rows in instead of inserting them one by one (insertAudit).
	bulk bool
	// kept, on a rebuild's writer, holds the secret names and emails its batches have
	// read, from one batch to the next (keptNames).
	kept *keptNames
	// nameReads counts the secret names batches read from the read models, the
	// live projector's and its rebuilds' alike (a test pins their shape).
	nameReads *atomic.Int64
	// rebuildBatch, when not 0, replaces rebuildBatch (a test's smaller batches).
	rebuildBatch int
	// spare is the live rows the last batch left (takeRows, keepRows): their slices'
	// and maps' room, which every batch grew anew before, ~1.9 kB a create.
	spare atomic.Pointer[liveRows]
}

// maxSpareRows bounds the rows kept from one batch to the next: the room of a long
// catch-up's batch is not worth holding on to.
const maxSpareRows = 1024

// takeRows gives a batch the rows the last one left, empty (none on a rebuild's
// writer: keepRows keeps none there).
func (w *writer) takeRows() liveRows {
	if l := w.spare.Swap(nil); l != nil {
		return *l
	}
	return liveRows{}
}

// keepRows keeps a finished live batch's rows for the next, emptied, unless one of
// them grew past maxSpareRows; a rebuild's (bulk) writer, whose batches may be under
// way two at once, keeps none.
func (w *writer) keepRows(l liveRows) {
	if w.bulk || max(cap(l.secrets), cap(l.bumps), cap(l.values), cap(l.versions), cap(l.names), cap(l.audit)) > maxSpareRows {
		return
	}
	l.reset()
	w.spare.Store(&l)
}

// keptNames are the secret names (by org/secret) and user emails (by user) a
// rebuild's batches have opened or read. A batch of 5,000 reveals names most of the
// org's secrets again: reading and opening their names once per batch was a tenth of
// a rebuild's CPU (the read's arrays of ids, the decryptions). Both never change once
// written (an erasure drops the organization's, dropOrganization); the map is
// emptied when it grows past maxKeptNames, so that its memory stays bounded.
type keptNames struct {
	// max bounds each map (maxKeptNames when 0).
	max    int
	names  map[secretKey]string
	emails map[string]string
	// sealed are the names sealed for audit rows (sealSecretName).
	sealed map[secretKey]sealedName
}

// maxKeptNames bounds the names (and, apart, the emails) a rebuild keeps.
const maxKeptNames = 1 << 17

// liveKeptNames bounds the names the live projector keeps. A rebuild reads every
// secret's name again and again (every batch of reveals audits most of them); the
// live projector sees the secrets written and revealed lately, and a name it no
// longer keeps costs one row in its batch's query. Kept at a rebuild's bound, the
// names of a day's random writes over 100,000 secrets held 6-7 MB of the live heap.
const liveKeptNames = 1 << 14

// maps returns the kept maps, each emptied first when it has grown past the bound.
func (k *keptNames) maps() (names map[secretKey]string, emails map[string]string, sealed map[secretKey]sealedName) {
	bound := cmp.Or(k.max, maxKeptNames)
	if k.names == nil || len(k.names) > bound {
		k.names = map[secretKey]string{}
	}
	if k.emails == nil || len(k.emails) > bound {
		k.emails = map[string]string{}
	}
	if k.sealed == nil || len(k.sealed) > bound {
		k.sealed = map[secretKey]sealedName{}
	}
	return k.names, k.emails, k.sealed
}

// countNameReads adds n secret names read from the read models.
func (db *writer) countNameReads(n int) {
	if db.nameReads != nil {
		db.nameReads.Add(int64(n))
	}
}

// claimCheckpoint records fence, a projector's lease revision, as the live read
// models' fence unless a higher one is there already (ErrFenced then). From then on
// a projector with a lower revision, one that lost its lease while paused, cannot
// commit (applyBatch checks under the same row's lock).
func (db *writer) claimCheckpoint(ctx context.Context, fence uint64) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, setSearchPath); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO projection_checkpoints (name, seq, fence) VALUES ($1, 0, $2)
			ON CONFLICT (name) DO UPDATE SET fence = EXCLUDED.fence WHERE projection_checkpoints.fence <= EXCLUDED.fence`,
			CheckpointName, int64(fence))
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		var stored int64
		if err := tx.QueryRow(ctx, `SELECT fence FROM projection_checkpoints WHERE name = $1`, CheckpointName).Scan(&stored); err != nil {
			return err
		}
		return fmt.Errorf("%w: read models claimed by lease revision %d, this projector's is %d", ErrFenced, stored, fence)
	})
	if err != nil && !errors.Is(err, ErrFenced) {
		return fmt.Errorf("claim read models at lease revision %d: %w", fence, err)
	}
	return err
}

func (db *writer) apply(ctx context.Context, r domain.Recorded, notes *notices, w *batchTx) error {
	if err := db.applyReadModel(ctx, r, notes, w); err != nil {
		return err
	}
	applyTokens(r, w)
	if err := db.applyWebhooks(ctx, r, w); err != nil {
		return err
	}
	return db.applyAudit(ctx, r, w)
}

func (db *writer) applyReadModel(ctx context.Context, r domain.Recorded, notes *notices, w *batchTx) error {
	switch e := r.Event.(type) {
	case domain.UserRegistered:
		w.exec(`INSERT INTO users (id, email, name, superadmin, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
			r.AggregateID, e.Email, e.Name, e.Superadmin, r.Time)
		return nil
	case domain.OrganizationCreated:
		w.exec(`INSERT INTO orgs (id, org_id, name, reveal_policy, created_at, updated_at) VALUES ($1, $1, $2, $3, $4, $4) ON CONFLICT DO NOTHING`,
			r.OrgID, e.Name, string(e.RevealPolicy), r.Time)
		w.exec(`INSERT INTO members (org_id, user_id, role, added_at) VALUES ($1, $2, 'owner', $3) ON CONFLICT DO NOTHING`, r.OrgID, e.OwnerID, r.Time)
		return nil
	case domain.OrganizationUpdated:
		w.exec(`UPDATE orgs SET name = COALESCE($2, name), reveal_policy = COALESCE($3, reveal_policy), updated_at = $4 WHERE id = $1`,
			r.OrgID, e.Name, (*string)(e.RevealPolicy), r.Time)
		return nil
	case domain.MemberAdded:
		w.exec(`INSERT INTO members (org_id, user_id, role, added_at) VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role`,
			r.OrgID, e.UserID, string(e.Role), r.Time)
		return nil
	case domain.MemberRoleChanged:
		w.exec(`UPDATE members SET role = $3 WHERE org_id = $1 AND user_id = $2`, r.OrgID, e.UserID, string(e.To))
		return nil
	case domain.MemberRemoved:
		w.exec(`DELETE FROM members WHERE org_id = $1 AND user_id = $2`, r.OrgID, e.UserID)
		return nil
	}
	return db.applySecret(ctx, r, notes, w)
}
