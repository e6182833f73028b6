package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// Names are sealed in Postgres, so Postgres can neither sort nor search them. A grid
// page used to open every name of the organization and sort in Go: O(org) decryptions
// per page. The name index keeps each organization's names open and sorted in memory,
// so a page is a binary search, a scan of names (no decryption) and a query for the
// page's own rows. It stays current without trusting anything but the read models: a
// page's snapshot reads the rows changed (and the tombstones written) since the
// checkpoint the index reflects, so another replica's projector keeps it as current
// as this one's. Only the names of changed secrets are opened.

// envBits records, per entry, in which environments a value is set (the env filter).
var envBits = map[domain.Environment]uint8{domain.Development: 1, domain.Staging: 2, domain.Production: 4}

type nameEntry struct {
	id   string
	name string
	envs uint8
	// idx is the entry's place in orgNames.all; dead marks one replaced or removed.
	idx  uint32
	dead bool
	// row is the rest of the secret's grid row, its description open. An entry is
	// replaced when its secret changes, never changed in place: a page copies the
	// pointer and renders it after the lock is given back (id, name and row only; idx
	// and dead change under the lock).
	row *gridRow
	// view is the row as a reader rendered it, while gridViews keeps it.
	view atomic.Pointer[keptView]
}

// gridRow is what a grid row shows besides the id and the name, compact: a page or one
// secret's read is rendered from it without asking Postgres for rows, and an index
// holds one per secret of the organization. Times are Unix nanoseconds.
type gridRow struct {
	description      string
	owner            *UserRef // shared by the owner's rows; users never change
	created, updated int64
	version          int
	envs             [3]gridEnv // in gridEnvs' order
}

type gridEnv struct {
	present, set bool
	version      int
	mask         string
	updated      int64
}

// secretRow renders an entry as the SecretRow of organization orgID.
func (e *nameEntry) secretRow(orgID string) SecretRow {
	r := e.row
	out := SecretRow{ID: e.id, OrgID: orgID, Name: e.name, Description: r.description, Owner: *r.owner,
		CreatedAt: time.Unix(0, r.created).UTC(), UpdatedAt: time.Unix(0, r.updated).UTC(), Version: r.version,
		Environments: make(map[domain.Environment]EnvState, 3)}
	for i, env := range gridEnvs {
		if g := r.envs[i]; g.present {
			out.Environments[env] = EnvState{Set: g.set, Version: g.version, Mask: g.mask, UpdatedAt: time.Unix(0, g.updated).UTC()}
		}
	}
	return out
}

// orgNames is one organization's index, as of checkpoint seq in schema.
type orgNames struct {
	mu     sync.Mutex
	schema string
	seq    uint64
	// changed is the checkpoint of the last sync that changed the index (a load, or
	// a catch-up that found rows changed or deleted): the index is the same at every
	// checkpoint from changed to seq, so a snapshot in between may use it.
	changed uint64
	loaded  bool
	byID    map[string]*nameEntry
	sorted  []*nameEntry // by name, byte order
	// all holds every entry put, by idx (dead ones until compaction); grams maps each
	// trigram (three bytes) of a name to the idxs of the entries holding it, ascending,
	// so that a q= search of three bytes or more reads the entries that can match
	// instead of scanning the organization.
	all   []*nameEntry
	grams map[uint32][]uint32
	dead  int
	// examined counts the entries pages have looked at (see GridCost).
	examined int64
	// owners interns the owners of the rows; access holds, per user id ("" for a
	// service token), the organization and the role as of seq: a read at the same
	// checkpoint needs neither from Postgres.
	owners map[string]*UserRef
	access map[string]orgAccessRow
	// forgotten marks an index dropped for good (see gridViews.forget).
	forgotten atomic.Bool
}

// nameIndex holds the organizations' indexes a process has served.
type nameIndex struct {
	mu   sync.Mutex
	orgs map[string]*orgNames
	// max bounds the organizations held (maxIndexedOrgs when 0).
	max int
	// opened counts names opened (decrypted) and rowsRead the grid rows read, so that a
	// test can pin the cost of a page (it must not grow with the organization).
	opened   atomic.Int64
	rowsRead atomic.Int64
	examined atomic.Int64
	// views keeps readers' renderings of the entries' rows.
	views gridViews
}

// maxIndexedOrgs bounds the memory the index takes: beyond it an organization's index
// is dropped to make room (and rebuilt from the read models when next asked for).
const maxIndexedOrgs = 4096

func (ix *nameIndex) org(orgID string) *orgNames {
	ix.mu.Lock()
	if ix.orgs == nil {
		ix.orgs = map[string]*orgNames{}
	}
	var dropped *orgNames
	on := ix.orgs[orgID]
	if on == nil {
		if limit := cmp.Or(ix.max, maxIndexedOrgs); len(ix.orgs) >= limit {
			for other, o := range ix.orgs {
				delete(ix.orgs, other)
				dropped = o
				break
			}
		}
		on = &orgNames{}
		ix.orgs[orgID] = on
	}
	ix.mu.Unlock()
	if dropped != nil {
		// Its views would keep the whole dropped index reachable (see keptView).
		ix.views.forget(dropped)
	}
	return on
}

// lookup returns the organization's index, nil when the process has none.
func (ix *nameIndex) lookup(orgID string) *orgNames {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.orgs[orgID]
}

// errStaleSnapshot means the index already reflects more than a page's snapshot: the
// page takes a newer snapshot, or rows the index lists could be missing from it.
var errStaleSnapshot = errors.New("projections: snapshot older than the name index")

// sync brings on up to checkpoint seq of schema within tx: a full load the first time
// (and after a rebuild switched schemas), else the rows changed and deleted since.
func (db *Secrets) syncNames(ctx context.Context, tx pgx.Tx, orgID string, on *orgNames, schema string, seq uint64) error {
	switch {
	case !on.loaded || on.schema != schema:
		on.byID, on.sorted, on.loaded = map[string]*nameEntry{}, nil, false
		on.all, on.grams, on.dead, on.owners = nil, map[uint32][]uint32{}, 0, map[string]*UserRef{}
		if err := db.readNames(ctx, tx, orgID, on, 0); err != nil {
			return err
		}
	case seq < on.seq && seq >= on.changed:
		// Older than the index, but nothing the index holds changed in between (the
		// checkpoint moved on through audit records: reveals, fetches): the same
		// index. Without this, readers at a busy organization's snapshots lost to
		// each other's newer ones until their retries ran out (500s under load).
		return nil
	case seq < on.seq:
		return errStaleSnapshot
	case seq == on.seq:
		return nil
	default:
		rows, err := tx.Query(ctx, deletionsSQL, orgID, int64(on.seq))
		if err != nil {
			return fmt.Errorf("read deletions: %w", err)
		}
		gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("read deletions: %w", err)
		}
		if rows, err = tx.Query(ctx, changedRowsSQL, orgID, int64(on.seq)); err != nil {
			return fmt.Errorf("read names: %w", err)
		}
		changed, err := collectSealedRows(rows)
		if err != nil {
			return fmt.Errorf("read names: %w", err)
		}
		return db.advance(ctx, orgID, on, seq, gone, changed)
	}
	on.schema, on.seq, on.changed, on.loaded = schema, seq, seq, true
	on.access = map[string]orgAccessRow{}
	return nil
}

// advance brings a loaded index to checkpoint seq with what changed since its own:
// the secrets deleted, then the rows changed (catchUp reads them in its pipeline,
// syncNames in its transaction).
func (db *Secrets) advance(ctx context.Context, orgID string, on *orgNames, seq uint64, gone []string, changed []sealedRow) error {
	for _, id := range gone {
		on.remove(id)
	}
	for i := range changed {
		if err := db.putRow(ctx, orgID, on, &changed[i]); err != nil {
			return err
		}
	}
	if len(gone) > 0 || len(changed) > 0 {
		on.changed = seq
	}
	on.seq = seq
	// The access read before stands for the checkpoint it was read at only.
	on.access = map[string]orgAccessRow{}
	return nil
}

// maxCachedAccess bounds the callers whose access an organization's index keeps.
const maxCachedAccess = 4096

// rememberAccess keeps a caller's access ("" for a service token) as of on.seq.
func (on *orgNames) rememberAccess(userID string, a orgAccessRow) {
	if len(on.access) >= maxCachedAccess {
		on.access = map[string]orgAccessRow{}
	}
	on.access[userID] = a
}

// deletionsSQL reads the ids of the secrets of organization $1 deleted after sequence $2.
const deletionsSQL = `SELECT secret_id::text FROM secret_deletions WHERE org_id = $1 AND seq > $2`

// readNames reads the grid rows of the org's secrets changed after sequence since, and
// opens their names and descriptions, into on, row by row.
func (db *Secrets) readNames(ctx context.Context, tx pgx.Tx, orgID string, on *orgNames, since uint64) error {
	rows, err := tx.Query(ctx, changedRowsSQL, orgID, int64(since))
	if err != nil {
		return fmt.Errorf("read names: %w", err)
	}
	if err := scanSealedRows(rows, func(r *sealedRow) error { return db.putRow(ctx, orgID, on, r) }); err != nil {
		return fmt.Errorf("read names: %w", err)
	}
	return nil
}

// putRow puts a row read by changedRowsSQL into on, its name and description opened.
func (db *Secrets) putRow(ctx context.Context, orgID string, on *orgNames, r *sealedRow) error {
	db.names.rowsRead.Add(1)
	name, err := db.keys.Open(ctx, orgID, r.name, nameAAD(orgID, r.id))
	if err != nil {
		return fmt.Errorf("open name of secret %s: %w", r.id, err)
	}
	db.names.opened.Add(1)
	desc, err := db.keys.Open(ctx, orgID, r.description, descriptionAAD(orgID, r.id))
	if err != nil {
		return fmt.Errorf("open description of secret %s: %w", r.id, err)
	}
	owner := on.owners[r.owner.ID]
	if owner == nil {
		owner = &UserRef{ID: r.owner.ID, Email: r.owner.Email, Name: r.owner.Name}
		on.owners[r.owner.ID] = owner
	}
	g := &gridRow{description: string(desc), owner: owner,
		created: r.created.UnixNano(), updated: r.updated.UnixNano(), version: r.version}
	e := &nameEntry{id: r.id, name: string(name), row: g}
	for i, env := range gridEnvs {
		st := r.envs[i]
		if !st.present {
			continue
		}
		g.envs[i] = gridEnv{present: true, set: st.set, version: st.version, mask: st.mask, updated: st.updated.UnixNano()}
		if st.set {
			e.envs |= envBits[env]
		}
	}
	on.put(e)
	return nil
}

// changedRowsSQL reads the grid rows of the secrets of organization $1 changed after
// sequence $2, their names and descriptions sealed. Each value is reached by its
// primary key (the LIMIT 1s keep each lateral subquery a lookup: without them the
// planner may flatten it into a scan of an environment's every value, as it did
// with a freshly filled read model's statistics), so reading k changed secrets
// costs k, whatever the size of the organization.
const changedRowsSQL = `SELECT s.id::text, s.name_sealed, ` + secretColumns + `
	FROM secrets s
	LEFT JOIN users u ON u.id = s.owner_id
	LEFT JOIN LATERAL (SELECT * FROM secret_values WHERE org_id = $1 AND secret_id = s.id AND env = 'development' LIMIT 1) d ON true
	LEFT JOIN LATERAL (SELECT * FROM secret_values WHERE org_id = $1 AND secret_id = s.id AND env = 'staging' LIMIT 1) g ON true
	LEFT JOIN LATERAL (SELECT * FROM secret_values WHERE org_id = $1 AND secret_id = s.id AND env = 'production' LIMIT 1) p ON true
	WHERE s.org_id = $1 AND s.changed_seq > $2`

func (on *orgNames) search(name, id string) (int, bool) {
	return slices.BinarySearchFunc(on.sorted, name, func(e *nameEntry, n string) int {
		if c := strings.Compare(e.name, n); c != 0 {
			return c
		}
		return strings.Compare(e.id, id)
	})
}

func (on *orgNames) remove(id string) {
	e := on.byID[id]
	if e == nil {
		return
	}
	delete(on.byID, id)
	if i, ok := on.search(e.name, e.id); ok {
		on.sorted = slices.Delete(on.sorted, i, i+1)
	}
	e.dead = true
	on.dead++
	if on.dead > 1024 && on.dead > len(on.all)/2 {
		on.compact()
	}
}

func (on *orgNames) put(e *nameEntry) {
	on.remove(e.id)
	on.byID[e.id] = e
	i, _ := on.search(e.name, e.id)
	on.sorted = slices.Insert(on.sorted, i, e)
	on.addGrams(e)
}

// addGrams gives e the next idx and lists it under each of its name's trigrams.
func (on *orgNames) addGrams(e *nameEntry) {
	if on.grams == nil {
		on.grams = map[uint32][]uint32{}
	}
	e.idx = uint32(len(on.all))
	on.all = append(on.all, e)
	for _, g := range trigrams(e.name) {
		on.grams[g] = append(on.grams[g], e.idx)
	}
}

// compact drops the dead entries from all and grams.
func (on *orgNames) compact() {
	live := on.sorted
	on.all, on.grams, on.dead = make([]*nameEntry, 0, len(live)), make(map[uint32][]uint32, len(on.grams)), 0
	for _, e := range live {
		on.addGrams(e)
	}
}

// trigrams are the distinct three-byte windows of s, each packed in a uint32.
func trigrams(s string) []uint32 {
	if len(s) < 3 {
		return nil
	}
	out := make([]uint32, 0, len(s)-2)
	for i := 0; i+3 <= len(s); i++ {
		g := uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2])
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// searchPage is page for a q of three bytes or more: the candidates are the entries
// holding q's two rarest trigrams, so its cost is theirs, not the organization's.
func (on *orgNames) searchPage(bit uint8, q, after string, limit int) ([]*nameEntry, bool) {
	var lists [][]uint32
	for _, g := range trigrams(q) {
		l := on.grams[g]
		if len(l) == 0 {
			return []*nameEntry{}, false
		}
		lists = append(lists, l)
	}
	slices.SortFunc(lists, func(a, b []uint32) int { return len(a) - len(b) })
	if len(lists[0]) > 64 && len(lists[0]) > len(on.sorted)/8 {
		// Common letters: matches are dense, so the ordered scan finds a page soon,
		// where sorting every candidate would cost the organization.
		return on.scanPage(bit, q, after, limit)
	}
	cand := lists[0]
	if len(lists) > 1 {
		cand = intersect(lists[0], lists[1])
	}
	var out []*nameEntry
	on.examined += int64(len(cand))
	for _, i := range cand {
		e := on.all[i]
		if e.dead || (bit != 0 && e.envs&bit == 0) || (after != "" && e.name <= after) || !strings.Contains(e.name, q) {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *nameEntry) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if len(out) > limit {
		return out[:limit], true
	}
	if out == nil {
		out = []*nameEntry{}
	}
	return out, false
}

// intersect is the idxs in both ascending lists.
func intersect(a, b []uint32) []uint32 {
	out := make([]uint32, 0, min(len(a), len(b)))
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// page picks the ids of one grid page: names after the cursor's, in order, kept by the
// environment and q filters, at most limit of them, and whether more follow.
func (on *orgNames) page(env domain.Environment, q, after string, limit int) ([]*nameEntry, bool) {
	bit := envBits[env]
	if len(q) >= 3 {
		return on.searchPage(bit, q, after, limit)
	}
	return on.scanPage(bit, q, after, limit)
}

// scanPage is page by a scan in name order from the cursor.
func (on *orgNames) scanPage(bit uint8, q, after string, limit int) ([]*nameEntry, bool) {
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(on.sorted, after, func(e *nameEntry, n string) int {
			if e.name <= n {
				return -1
			}
			return 1
		})
	}
	out := make([]*nameEntry, 0, min(limit, len(on.sorted)))
	for _, e := range on.sorted[start:] {
		on.examined++
		if bit != 0 && e.envs&bit == 0 {
			continue
		}
		if q != "" && !strings.Contains(e.name, q) {
			continue
		}
		if len(out) == limit {
			return out, true
		}
		out = append(out, e)
	}
	return out, false
}

// GridCost is how much the grid has cost this process so far: names opened
// (decrypted, by the grid, one secret's read or a values fetch) and grid rows read. A page must cost what it shows, whatever the size of
// its organization; tests pin that shape with it.
type GridCost struct {
	NamesOpened int64
	RowsRead    int64
	// NamesExamined counts index entries a page looked at (in memory, no decryption):
	// a q= page must not scan the organization either.
	NamesExamined int64
}

// GridCost reports the grid's cost so far.
func (db *Secrets) GridCost() GridCost {
	return GridCost{NamesOpened: db.names.opened.Load(), RowsRead: db.names.rowsRead.Load(), NamesExamined: db.names.examined.Load()}
}
