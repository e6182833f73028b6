package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

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

// envBits records, per entry, in which environments a value is set (the env filter):
// bit i is gridEnvs[i].
var envBits = map[domain.Environment]uint8{domain.Development: 1, domain.Staging: 2, domain.Production: 4}

// orgNames is one organization's index, as of checkpoint seq in schema.
//
// It is built to cost little memory and no garbage collection: at 100,000 secrets an
// index of one object per entry (its strings, a row, a map of pointers to it, pointer
// slices for the order and the trigrams) took 40-55 MB, and every collection had to
// walk all of it. Entries are fixed-size structs without pointers in chunks (see
// nameEntry), their strings in one arena, the table by id (idTable), the name order
// and the trigram postings hold 32-bit keys: the collector skips all of it but the
// postings' slice headers, and a secret costs some 220 bytes with its strings
// (TestNameIndexBytesPerSecret).
type orgNames struct {
	mu     sync.Mutex
	orgID  string
	schema string
	seq    uint64
	// changed is the checkpoint of the last sync that changed the index (a load, or
	// a catch-up that found rows changed or deleted): the index is the same at every
	// checkpoint from changed to seq, so a snapshot in between may use it.
	changed uint64
	loaded  bool
	// keys is the entries' store (see entries); byID finds a live entry's key by its
	// secret's id; sorted holds the live keys by name, byte order (ids break ties).
	keys   entries
	byID   idTable
	sorted []uint32
	// ordered is where the keys stop being numbered in name order: the live entries
	// under keys below it are in sorted's order (a full load and a compaction number
	// the keys by name, and an entry keeps its key and its name for its life), the
	// keys from it on were added since, in any order. A q= page reads its candidates in
	// key order, so it needs to sort only those of the few keys from ordered on, and
	// can stop once it has its rows (see searchPage).
	ordered uint32
	// grams lists the keys by the trigrams of their names (see postings).
	grams postings
	dead  int
	// arena holds the entries' strings (see newArena); deadText counts its bytes that no
	// live entry uses; stamps counts the entries put (see nameEntry.stamp).
	arena    *strings.Builder
	deadText int
	stamps   uint32
	// bulk is set while a full load appends to sorted unordered (sorted once at its end).
	bulk bool
	// merging is set while putMany puts a catch-up's rows in: their new keys wait in
	// pending, in key order, and go into sorted together at its end (endMerge).
	merging bool
	pending []uint32
	// examined counts the entries pages have looked at (see GridCost).
	examined int64
	// owners interns the owners of the rows (an entry holds an index); ownerKeys finds
	// one by user id. Users never change, so owners only grows (until a full load).
	owners    []UserRef
	ownerKeys map[string]uint32
	// snap is what pages share of the index as it is now (see pageSnap), nil after any
	// change until a page asks for it.
	snap *pageSnap
	// access holds, per user id ("" for a service token), the organization and the role
	// as of seq: a read at the same checkpoint needs neither from Postgres.
	access map[string]orgAccessRow
	// views is where the entries' views are kept (the nameIndex's).
	views *gridViews
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
	// rows holds the row slices of released pages (*[]GridRow).
	rows sync.Pool
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
		on = &orgNames{orgID: orgID, views: &ix.views}
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
		on.reset()
		on.bulk = true
		err := db.readNames(ctx, tx, orgID, on, 0)
		on.endBulk()
		if err != nil {
			on.reset()
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
		if key, ok := parseID(id); ok {
			on.remove(key)
		}
	}
	if err := on.putMany(len(changed), func(i int) error { return db.putRow(ctx, orgID, on, &changed[i]) }); err != nil {
		return err
	}
	if len(gone) > 0 || len(changed) > 0 {
		on.changed = seq
	}
	on.seq = seq
	// The access read before stands for the checkpoint it was read at only.
	on.access = map[string]orgAccessRow{}
	return nil
}

// putMany puts n rows into a loaded index, row i by put(i). Many rows at once (the
// index was made before a bulk import, as the benchmark's is before its seeding, or a
// replica came back) go in as a full load's do: appended, then sorted and numbered in
// name order once (see endBulk), also when a put fails. One by one, each moved half
// the order, and their keys stayed out of name order: a q= page had to sort their
// candidates, a third of the organization's at worst (see put). Fewer, but more than
// one, are merged into the order together (see endMerge): one by one, each new name
// moved half the order (k × 30-50 µs at 140,000 secrets for a catch-up of k rows).
func (on *orgNames) putMany(n int, put func(i int) error) error {
	switch {
	case n >= bulkCatchUp && n > len(on.sorted)/8:
		on.bulk = true
		defer on.endBulk()
	case n > 1:
		on.merging = true
		defer on.endMerge()
	}
	for i := range n {
		if err := put(i); err != nil {
			return err
		}
	}
	return nil
}

// bulkCatchUp is the fewest rows putMany puts in as a full load does, when they are
// also more than an eighth of the index.
const bulkCatchUp = 1024

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
	id, ok := parseID(r.id)
	if !ok {
		return fmt.Errorf("read names: secret id %q is not a uuid", r.id)
	}
	name, err := db.keys.Open(ctx, orgID, r.name, nameAAD(orgID, r.id))
	if err != nil {
		return fmt.Errorf("open name of secret %s: %w", r.id, err)
	}
	db.names.opened.Add(1)
	desc, err := db.keys.Open(ctx, orgID, r.description, descriptionAAD(orgID, r.id))
	if err != nil {
		return fmt.Errorf("open description of secret %s: %w", r.id, err)
	}
	e := nameEntry{id: id, owner: on.owner(r.owner), created: r.created.UnixNano(), updated: r.updated.UnixNano()}
	text := [textFields]string{string(name), string(desc)}
	if e.version, err = version32(r.version); err != nil {
		return fmt.Errorf("secret %s: %w", r.id, err)
	}
	for i := range gridEnvs {
		st := r.envs[i]
		if !st.present {
			continue
		}
		e.present |= 1 << i
		if st.set {
			e.set |= 1 << i
		}
		if e.envVersion[i], err = version32(st.version); err != nil {
			return fmt.Errorf("secret %s: %w", r.id, err)
		}
		e.envUpdated[i] = st.updated.UnixNano()
		text[textMask+i] = st.mask
	}
	return on.put(e, text)
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

// knownName returns the name of a secret as an organization's index holds it, when the
// index is loaded and free at the moment (the projector asks while it holds its batch's
// transaction, so it never waits for a page). A secret's name never changes (a new
// name is a new secret), so an entry of its id is its name at any checkpoint. The
// name is copied: the index's strings share one arena, which a kept name would pin.
func (ix *nameIndex) knownName(orgID, secretID string) (string, bool) {
	if ix == nil {
		return "", false
	}
	id, ok := parseID(secretID)
	if !ok {
		return "", false
	}
	ix.mu.Lock()
	on := ix.orgs[orgID]
	ix.mu.Unlock()
	if on == nil || !on.mu.TryLock() {
		return "", false
	}
	defer on.mu.Unlock()
	if !on.loaded {
		return "", false
	}
	key, ok := on.byID.get(&on.keys, id)
	if !ok {
		return "", false
	}
	return strings.Clone(on.name(key)), true
}
