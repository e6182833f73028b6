package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// SecretPage is what SecretPageAt read: the organization and the caller's role (or
// OrgErr, not_found), and one grid page (or FilterErr, a validation error naming a bad
// limit or cursor).
type SecretPage struct {
	Org       Org
	Role      domain.Role
	OrgErr    error
	FilterErr error
	Rows      []GridRow
	Next      string
	// pool takes Rows back (see Release).
	pool *sync.Pool
}

// Release hands the page's rows back for another page to reuse; neither Rows nor any
// GridRow of it may be read afterwards. Optional: an unreleased page is garbage as any
// other. A page's rows (copies of their entries, 12.8 KB for 100) were three quarters
// of the bytes the grid's phases allocated at 100,000 secrets, and the collections
// they caused a fifth of the server's CPU.
func (p *SecretPage) Release() {
	if p.pool == nil || cap(p.Rows) == 0 {
		return
	}
	rows := p.Rows[:cap(p.Rows)]
	// A pooled row would keep its index's strings reachable. Only the pointers are
	// cleared: clearing the whole slice (12.8 KB for 100 rows, through memclrHasPointers)
	// was 6 % of a first page's CPU.
	for i := range p.Rows {
		rows[i].s = nil
	}
	p.pool.Put(&rows)
	p.Rows, p.pool = nil, nil
}

// GridRow is one secret's row as the name index holds it. A page hands these out
// rather than SecretRows: building a SecretRow (its map of environments, its times)
// for every row of every page was a fifth of a page's CPU and most of its garbage,
// and a reader that keeps its rendering of the row (KeepView) needs none of it on
// the next page. It is a copy of the index's entry, taken under the index's lock, and
// the index's strings it reads are never changed: a later change of the secret does
// not show through it.
type GridRow struct {
	e   nameEntry
	key uint32
	// searched marks a row of a q= page: it neither reads nor keeps a view (see View).
	searched bool
	// s is what the row reads of its index (nil for the zero GridRow).
	s *pageSnap
}

// gridRow is the row of the entry under key of on (on.mu held).
func (on *orgNames) gridRow(key uint32) GridRow {
	return GridRow{e: *on.keys.at(key), key: key, s: on.snapshot()}
}

// str is the row's string i, "" for the zero GridRow.
func (g GridRow) str(i int) string {
	if g.s == nil {
		return ""
	}
	return g.e.str(g.s.text, i)
}

// ID is the secret's id ("" for the zero GridRow, as every method answers the zero
// value's).
func (g GridRow) ID() string {
	if g.s == nil {
		return ""
	}
	return string(AppendID(make([]byte, 0, 36), g.e.id))
}

// AppendID appends the secret's id to b: ID without a string of its own.
func (g GridRow) AppendID(b []byte) []byte {
	if g.s == nil {
		return b
	}
	return AppendID(b, g.e.id)
}

// Name is the secret's name.
func (g GridRow) Name() string { return g.str(textName) }

// OwnerID is the id of the secret's owner, which decides a caller's permissions on it.
func (g GridRow) OwnerID() string { return g.Owner().ID }

// Description is the secret's description.
func (g GridRow) Description() string { return g.str(textDescription) }

// Owner is the secret's owner.
func (g GridRow) Owner() UserRef {
	if g.s == nil {
		return UserRef{}
	}
	return g.s.owners[g.e.owner]
}

// CreatedAt is when the secret was created.
func (g GridRow) CreatedAt() time.Time {
	if g.s == nil {
		return time.Time{}
	}
	return time.Unix(0, g.e.created).UTC()
}

// UpdatedAt is when the secret last changed.
func (g GridRow) UpdatedAt() time.Time {
	if g.s == nil {
		return time.Time{}
	}
	return time.Unix(0, g.e.updated).UTC()
}

// Version is the secret's version.
func (g GridRow) Version() int { return int(g.e.version) }

// Env is the secret's value state in env, as Row().Environments[env] is: a reader
// that renders the row field by field needs no SecretRow (and its map).
func (g GridRow) Env(env domain.Environment) EnvState {
	for i, e := range gridEnvs {
		if e == env && g.e.present&(1<<i) != 0 {
			return EnvState{Set: g.e.set&(1<<i) != 0, Version: int(g.e.envVersion[i]), Mask: g.str(textMask + i),
				UpdatedAt: time.Unix(0, g.e.envUpdated[i]).UTC()}
		}
	}
	return EnvState{}
}

// GridFields is a row's fields as a renderer reads them, in one copy: times as Unix
// nanoseconds (UTC), the environments in a fixed order. Rendering a row through the
// methods above copied the whole GridRow into each call (128 bytes, ten calls a
// row) and turned every time into a time.Time; at 100,000 secrets most rows of a q=
// page are rendered rather than copied from a kept view, and that was a fifth of the
// page's CPU.
type GridFields struct {
	ID          [16]byte
	Name        string
	Description string
	Owner       UserRef
	// CreatedAt and UpdatedAt are Unix nanoseconds, as time.Unix(0, n).UTC() reads them.
	CreatedAt, UpdatedAt int64
	Version              int
	// Envs are the value states as Env answers them, in GridEnvs' order.
	Envs [3]GridEnv
}

// GridEnv is EnvState with its time as Unix nanoseconds.
type GridEnv struct {
	Set       bool
	Version   int
	Mask      string
	UpdatedAt int64
}

// GridEnvs are the environments of GridFields.Envs, in order.
func GridEnvs() [3]domain.Environment { return gridEnvs }

// Fields is the row's fields (the zero GridFields for the zero GridRow). Every field
// reads what the method of its name reads.
func (g *GridRow) Fields() GridFields {
	if g.s == nil {
		return GridFields{}
	}
	text := g.s.text
	f := GridFields{ID: g.e.id, Name: g.e.str(text, textName), Description: g.e.str(text, textDescription),
		Owner: g.s.owners[g.e.owner], CreatedAt: g.e.created, UpdatedAt: g.e.updated, Version: int(g.e.version)}
	for i := range f.Envs {
		if g.e.present&(1<<i) != 0 {
			f.Envs[i] = GridEnv{Set: g.e.set&(1<<i) != 0, Version: int(g.e.envVersion[i]), Mask: g.e.str(text, textMask+i),
				UpdatedAt: g.e.envUpdated[i]}
		}
	}
	return f
}

// Row is the row's fields.
func (g GridRow) Row() SecretRow {
	if g.s == nil {
		return SecretRow{}
	}
	out := SecretRow{ID: g.ID(), OrgID: g.s.orgID, Name: g.Name(), Description: g.Description(), Owner: g.Owner(),
		CreatedAt: g.CreatedAt(), UpdatedAt: g.UpdatedAt(), Version: g.Version(),
		Environments: make(map[domain.Environment]EnvState, 3)}
	for i, env := range gridEnvs {
		if g.e.present&(1<<i) != 0 {
			out.Environments[env] = g.Env(env)
		}
	}
	return out
}

// View is what KeepView kept for this row, nil until a reader kept something, and
// always nil for a row of a q= page.
//
// The rows of q= pages neither read nor keep views: searches go all over an
// organization, so at 100,000 secrets the views (a quarter of it) seldom held their
// rows, and reading a view's slot (a cache miss a row), keeping one row in eight
// (a copy, and garbage) and copying the few found cost a q= page more than rendering
// its rows (bench at 100,000: 77 µs of server CPU a page with views, 71 without). The
// budget is left to the rows that pages in name order show again and again (a first
// page: 37 µs with views, 63 rendering every row).
func (g GridRow) View() []byte {
	if g.s == nil || g.searched {
		return nil
	}
	return g.s.on.views.get(slot(g.s.slots, g.key), g.e.stamp)
}

// KeepView keeps a copy of view, a rendering of Row() that is the same for every
// caller (no permissions, nothing of the request), with the row, within a budget of
// memory that all rows share (so a view may be dropped later, or not kept at all).
// The row never changes: a change of the secret is a new GridRow, without a view.
// When concurrent readers each keep one, the first stays.
func (g GridRow) KeepView(view []byte) {
	if g.s != nil && !g.searched {
		g.s.on.views.keep(g.s.on, slot(g.s.slots, g.key), g.e.stamp, view)
	}
}

// SecretPageAt reads the caller's access to an organization and a page of its grid
// as of a checkpoint read after the call began (read-your-writes, on every replica).
// The page comes from this process's name index, which holds each secret's row; the
// organization and the caller's role are kept with it per checkpoint. When the index
// is at that checkpoint and knows the caller, the page costs no round trip of its own
// (the checkpoint read is shared among the requests that arrive together, see
// freshCheckpoints); otherwise one snapshot brings the index up to date with the rows
// changed since and reads the caller's access. The caller authorizes with the role
// before it shows the rows or the errors.
func (db *Secrets) SecretPageAt(ctx context.Context, orgID, userID string, f SecretFilter) (SecretPage, error) {
	on, a, err := db.currentOrg(ctx, orgID, userID)
	if err != nil {
		return SecretPage{}, err
	}
	var page SecretPage
	page.Org, page.Role, page.OrgErr = a.result()
	if on == nil {
		return page, nil
	}
	limit, after, err := pageBounds(f)
	if err != nil {
		on.mu.Unlock()
		page.FilterErr = err
		return page, nil
	}
	var more bool
	page.Rows, more = db.pageRows(on, f.Env, strings.ToUpper(f.Q), after, limit)
	page.pool = &db.names.rows
	on.mu.Unlock()
	if more && len(page.Rows) > 0 {
		page.Next = encodeCursor(page.Rows[len(page.Rows)-1].Name())
	}
	return page, nil
}

// ListSecrets returns a page of the grid sorted by name (byte order), as SecretPageAt
// reads it, without a caller: not_found for an organization the read models do not
// have, a validation error for a bad limit or cursor. Its cost does not grow with the
// organization.
func (db *Secrets) ListSecrets(ctx context.Context, orgID string, f SecretFilter) ([]SecretRow, string, error) {
	page, err := db.SecretPageAt(ctx, orgID, "", f)
	switch {
	case err != nil:
		return nil, "", err
	case page.OrgErr != nil:
		return nil, "", page.OrgErr
	case page.FilterErr != nil:
		return nil, "", page.FilterErr
	}
	rows := make([]SecretRow, len(page.Rows))
	for i, g := range page.Rows {
		rows[i] = g.Row()
	}
	page.Release()
	return rows, page.Next, nil
}

// currentOrg returns the organization's name index, locked (the caller unlocks it), at
// least as current as the read models were when the call began, with the caller's
// access as of the index's checkpoint. An organization that is not (or no longer)
// there returns its access (not found) and a nil index.
func (db *Secrets) currentOrg(ctx context.Context, orgID, userID string) (*orgNames, orgAccessRow, error) {
	if !isUUID(orgID) {
		return nil, orgAccessRow{}, nil
	}
	seq, schema, err := db.fresh.current(ctx)
	if err != nil {
		return nil, orgAccessRow{}, fmt.Errorf("read models checkpoint: %w", err)
	}
	// Looked up, not made: an index is made only for an organization the read models
	// have, so that requests naming other ids cannot push real ones out.
	if on := db.names.lookup(orgID); on != nil {
		on.mu.Lock()
		if on.loaded && on.schema == schema && on.seq >= seq {
			if a, ok := on.access[userID]; ok {
				return on, a, nil
			}
		}
		if on.loaded && on.schema == schema {
			a, ok, err := db.catchUp(ctx, orgID, userID, on)
			switch {
			case err != nil:
				on.mu.Unlock()
				return nil, orgAccessRow{}, err
			case ok && !a.Found:
				on.mu.Unlock()
				db.names.forget(orgID)
				return nil, a, nil
			case ok:
				return on, a, nil
			}
		}
		on.mu.Unlock()
	}
	for attempt := 0; ; attempt++ {
		var a orgAccessRow
		var synced *orgNames
		var exact bool
		err := db.inOrgSnapshot(ctx, orgID, func(tx pgx.Tx) error {
			read := a.query(orgID, userID)
			rows, err := tx.Query(ctx, read.sql, read.args...)
			if err != nil {
				return fmt.Errorf("org access: %w", err)
			}
			if err := read.read(rows); err != nil {
				return fmt.Errorf("org access: %w", err)
			}
			if !a.Found {
				return nil
			}
			synced, exact, err = db.lockedNames(ctx, tx, orgID)
			return err
		})
		if errors.Is(err, errStaleSnapshot) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, orgAccessRow{}, err
		}
		if !a.Found {
			// Erased (or never there): nothing of it stays in memory here.
			db.names.forget(orgID)
			return nil, a, nil
		}
		if exact {
			// The access is as of this snapshot: kept only when the index is at it too
			// (an index ahead of it may be used, not labelled with an older access).
			synced.rememberAccess(userID, a)
		}
		return synced, a, nil
	}
}

// checkpointSQL reads the read models' checkpoint and the schema that holds them.
const checkpointSQL = `SELECT COALESCE((SELECT seq FROM projection_checkpoints WHERE name = $1), 0), current_schema()`

// catchUp brings on, a loaded index the caller holds locked, up to the read models in
// one round trip: the caller's access, the checkpoint, and the deletions and rows
// changed since the index's checkpoint, all in one snapshot (the long way takes six).
// ok is false when that snapshot cannot be used — older than the index, or of another
// schema (a rebuild switched) — and the caller then takes the long way. on stays
// locked either way.
func (db *Secrets) catchUp(ctx context.Context, orgID, userID string, on *orgNames) (orgAccessRow, bool, error) {
	var a orgAccessRow
	var atSeq int64
	var atSchema string
	var gone []string
	var changed []sealedRow
	err := db.scopedQueriesIn(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, orgID, "",
		a.query(orgID, userID),
		checkpointRead(&atSeq, &atSchema),
		scopedRead{sql: deletionsSQL, args: []any{orgID, int64(on.seq)}, read: func(rows pgx.Rows) error {
			var err error
			gone, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		}},
		scopedRead{sql: changedRowsSQL, args: []any{orgID, int64(on.seq)}, read: func(rows pgx.Rows) error {
			var err error
			changed, err = collectSealedRows(rows)
			return err
		}},
	)
	if err != nil {
		return orgAccessRow{}, false, fmt.Errorf("catch up the name index: %w", err)
	}
	if atSchema != on.schema || uint64(atSeq) < on.seq {
		return orgAccessRow{}, false, nil
	}
	if !a.Found {
		return a, true, nil
	}
	if uint64(atSeq) > on.seq {
		if err := db.advance(ctx, orgID, on, uint64(atSeq), gone, changed); err != nil {
			return orgAccessRow{}, false, err
		}
	}
	on.rememberAccess(userID, a)
	return a, true, nil
}
