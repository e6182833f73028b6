package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/keyledger/keyledger/domain"
)

// Secrets answers the secrets grid (through the name index it shares with the
// projector), one secret, a secret with the caller's access, its value versions and an
// environment's sealed values.
type Secrets struct {
	*store
	names *nameIndex
	fresh *freshCheckpoints
	// reveals gathers concurrent reveal snapshot reads (RevealSnapshot).
	reveals sharedReads[*snapshotAsk]
	// snapshots gathers concurrent secret snapshot reads (SecretSnapshot).
	snapshots sharedReads[*secretSnapshotAsk]
}

// EnvState is a secret's value state in one environment, as the grid shows it.
type EnvState struct {
	Set       bool
	Version   int
	Mask      string
	UpdatedAt time.Time
}

// SecretRow is one row of the secrets grid.
type SecretRow struct {
	ID           string
	OrgID        string
	Name         string
	Description  string
	Owner        UserRef
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Version      int
	Environments map[domain.Environment]EnvState
}

// SecretFilter narrows the grid.
type SecretFilter struct {
	// Env keeps only secrets with a value in that environment ("" = all).
	Env domain.Environment
	// Q is a case-insensitive substring of the name.
	Q      string
	Limit  int
	Cursor string
}

// Limits of a grid page.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// lockedNames returns the organization's name index brought up to the snapshot of tx
// (a repeatable-read transaction), locked: the caller unlocks it. exact says that the
// index is at the snapshot's checkpoint; when it is not, it is ahead of it with the
// same content (nothing it holds changed in between). errStaleSnapshot means the
// index holds changes newer than the snapshot; take a new one.
func (db *Secrets) lockedNames(ctx context.Context, tx pgx.Tx, orgID string) (on *orgNames, exact bool, err error) {
	var seq int64
	var schema string
	if err := tx.QueryRow(ctx, checkpointSQL, CheckpointName).Scan(&seq, &schema); err != nil {
		return nil, false, fmt.Errorf("name index snapshot: %w", err)
	}
	on = db.names.org(orgID)
	on.mu.Lock()
	if err := db.syncNames(ctx, tx, orgID, on, schema, uint64(seq)); err != nil {
		on.mu.Unlock()
		return nil, false, err
	}
	return on, on.seq == uint64(seq), nil
}

// pageRows picks a page's rows from on, which the caller holds locked: copies, which
// the caller may read once it gave the lock back, in a slice taken from the pool of
// released pages when one is large enough (see SecretPage.Release).
func (db *Secrets) pageRows(on *orgNames, env domain.Environment, q, after string, limit int) ([]GridRow, bool) {
	examined := on.examined
	picked, more := on.page(env, q, after, limit)
	db.names.examined.Add(on.examined - examined)
	var rows []GridRow
	if pooled, ok := db.names.rows.Get().(*[]GridRow); ok && cap(*pooled) >= len(picked) {
		rows = (*pooled)[:len(picked)]
	} else {
		rows = make([]GridRow, len(picked), max(len(picked), DefaultLimit))
	}
	for i, key := range picked {
		rows[i] = on.gridRow(key)
		rows[i].searched = q != ""
	}
	return rows, more
}

// pageBounds reads a page's limit and cursor; a bad one is a validation error.
func pageBounds(f SecretFilter) (int, string, error) {
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return 0, "", domain.Invalid("limit", "must be between 1 and 1000")
	}
	if f.Cursor == "" {
		return limit, "", nil
	}
	after, err := decodeCursor(f.Cursor)
	return limit, after, err
}

// GetSecret returns one row of the grid: SecretAccess without a caller.
func (db *Secrets) GetSecret(ctx context.Context, orgID, secretID string) (SecretRow, error) {
	a, err := db.SecretAccess(ctx, orgID, "", secretID)
	if err != nil {
		return SecretRow{}, err
	}
	if a.SecretErr != nil {
		return SecretRow{}, a.SecretErr
	}
	return a.Secret.Row(), nil
}

// secretColumns are a grid row's columns after its id and name, as scanSealedRows reads
// them: each environment's presence, set flag, version, mask and time.
const secretColumns = `s.description_sealed, s.owner_id::text, COALESCE(u.email, ''), COALESCE(u.name, ''),
		s.created_at, s.updated_at, s.version,
		d.env IS NOT NULL, COALESCE(d.is_set, false), COALESCE(d.version, 0), COALESCE(d.mask, ''), COALESCE(d.updated_at, 'epoch'),
		g.env IS NOT NULL, COALESCE(g.is_set, false), COALESCE(g.version, 0), COALESCE(g.mask, ''), COALESCE(g.updated_at, 'epoch'),
		p.env IS NOT NULL, COALESCE(p.is_set, false), COALESCE(p.version, 0), COALESCE(p.mask, ''), COALESCE(p.updated_at, 'epoch')`

// sealedRow is one changedRowsSQL row: a grid row with its name and description still
// sealed.
type sealedRow struct {
	id, name, description string
	owner                 UserRef
	created, updated      time.Time
	version               int
	envs                  [3]struct {
		present, set bool
		version      int
		mask         string
		updated      time.Time
	}
}

// collectSealedRows reads the rows of a changedRowsSQL query (changes since a
// checkpoint: a few rows, where a full load goes through scanSealedRows).
func collectSealedRows(rows pgx.Rows) ([]sealedRow, error) {
	var out []sealedRow
	err := scanSealedRows(rows, func(r *sealedRow) error {
		out = append(out, *r)
		return nil
	})
	return out, err
}

// scanSealedRows hands each changedRowsSQL row to fn, in order, in one sealedRow that
// the next row overwrites: a full load of an organization goes into the index row by
// row instead of through a slice of every row first (at 100,000 secrets that slice,
// a map per row, was a few hundred MB the server's RSS kept).
func scanSealedRows(rows pgx.Rows, fn func(*sealedRow) error) error {
	defer rows.Close()
	var r sealedRow
	dests := []any{&r.id, &r.name, &r.description, &r.owner.ID, &r.owner.Email, &r.owner.Name,
		&r.created, &r.updated, &r.version}
	for i := range r.envs {
		e := &r.envs[i]
		dests = append(dests, &e.present, &e.set, &e.version, &e.mask, &e.updated)
	}
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return fmt.Errorf("load secrets: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load secrets: %w", err)
	}
	return nil
}

// collectSealed reads rows of (secret id, version, sealed value) into a
// sealedCollector.
func collectSealed(rows pgx.Rows) ([]domain.StoredValue, error) {
	defer rows.Close()
	var (
		id, sealed pgtype.DriverBytes
		version    int
		c          sealedCollector
	)
	for rows.Next() {
		if err := rows.Scan(&id, &version, &sealed); err != nil {
			return nil, err
		}
		c.add(id, sealed, version)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return c.out, nil
}

// sealedCollector gathers a values fetch's rows. Their ids and sealed texts are
// written once, into chunks of text that are never copied: each chunk is an arena
// (newArena) grown to its size up front, whose text a string shares (strings.Builder.String),
// and each row's strings are slices of it. One byte slice grown row by row, then
// copied into a string, allocated some seven times the text (a large slice grows by
// a quarter at a time, each growth a copy): 110 of the 134 MB a fetch of 100,000
// values allocated, which a memory limit near the live heap made the collector chase
// (TestSealedCollectorAllocatesItsTextOnce).
type sealedCollector struct {
	chunk *strings.Builder
	out   []domain.StoredValue
}

// sealedChunk is the size of a chunk of text: some 7,000 rows.
const sealedChunk = 1 << 20

func (c *sealedCollector) add(id, sealed []byte, version int) {
	need := len(id) + len(sealed)
	if c.chunk == nil || c.chunk.Cap()-c.chunk.Len() < need {
		c.chunk = newArena(max(sealedChunk, need))
	}
	start := c.chunk.Len()
	c.chunk.Write(id)
	c.chunk.Write(sealed)
	text := c.chunk.String()
	if len(c.out) == cap(c.out) {
		// Doubled, not grown by a quarter as append grows a large slice.
		c.out = slices.Grow(c.out, max(1024, len(c.out)))
	}
	c.out = append(c.out, domain.StoredValue{SecretID: text[start : start+len(id)], Version: version,
		Sealed: text[start+len(id) : start+need]})
}

// SealedValues returns every current value of one environment, still sealed, for an
// integration fetch, sorted by name. Its cost is the environment's values: the names
// come from the name index (opened once per process, then only those of changed
// secrets), not from opening every name of the organization per fetch. asOf is the
// checkpoint of the read models the values were read at: they are the log's values up
// to that sequence, every change after it comes after it in the change feed.
func (db *Secrets) SealedValues(ctx context.Context, orgID string, env domain.Environment) ([]domain.StoredValue, uint64, error) {
	if !isUUID(orgID) {
		return nil, 0, notFound("organization")
	}
	for attempt := 0; ; attempt++ {
		var out []domain.StoredValue
		var asOf int64
		err := db.longRead(ctx, orgID, true, func(tx pgx.Tx) error {
			var schema string
			if err := tx.QueryRow(ctx, checkpointSQL, CheckpointName).Scan(&asOf, &schema); err != nil {
				return fmt.Errorf("read values: %w", err)
			}
			rows, err := tx.Query(ctx, `SELECT secret_id::text, version, sealed FROM secret_values
				WHERE org_id = $1 AND env = $2 AND is_set`, orgID, string(env))
			if err != nil {
				return fmt.Errorf("read values: %w", err)
			}
			if out, err = collectSealed(rows); err != nil {
				return fmt.Errorf("read values: %w", err)
			}
			on, _, err := db.lockedNames(ctx, tx, orgID)
			if err != nil {
				return err
			}
			defer on.mu.Unlock()
			// Each row takes its name's place in the index's order (byte order, as
			// strings.Compare): sorting 100,000 rows by name was an eighth of a fetch.
			rowAt := make([]int32, len(on.sorted))
			rank := make([]int32, on.keys.n)
			for i, key := range on.sorted {
				rank[key] = int32(i) + 1
			}
			for i := range out {
				id, _ := parseID(out[i].SecretID)
				key, ok := on.byID.get(&on.keys, id)
				if !ok || rank[key] == 0 {
					// The index and the values come from one snapshot.
					return fmt.Errorf("read values: secret %s has a value but no name in the index", out[i].SecretID)
				}
				out[i].Name = domain.SecretName(on.name(key))
				rowAt[rank[key]-1] = int32(i) + 1
			}
			// Move the rows to their places in place (a copy of 100,000 rows is 5.6 MB
			// more per fetch): place[i] is where row i goes.
			place := make([]int32, len(out))
			next := int32(0)
			for _, row := range rowAt {
				if row != 0 {
					place[row-1] = next
					next++
				}
			}
			for i := range out {
				for j := place[i]; j != int32(i); j = place[i] {
					out[i], out[j] = out[j], out[i]
					place[i], place[j] = place[j], j
				}
			}
			return nil
		})
		if errors.Is(err, errStaleSnapshot) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		return out, uint64(asOf), nil
	}
}

// gridEnvs are the environments in secretColumns' order.
var gridEnvs = [3]domain.Environment{domain.Development, domain.Staging, domain.Production}
