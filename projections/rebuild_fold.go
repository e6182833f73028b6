package projections

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/keyledger/keyledger/domain"
)

// A rebuild's batch folds the grid rows (secrets, secret_values) of each secret it
// creates into their final state in memory and copies them at the next sync, where
// the projector queues a statement per change: an INSERT of the secret, an upsert per
// value set, an UPDATE per version bump, two DELETEs per deletion. Those statements
// were most of what PostgreSQL executed for a log's creates, updates and deletes, one
// by one and in order, because each changes what the one before it wrote.
//
// Only a secret whose first grid event in the batch is its creation, and that has no
// row in either table when the batch begins (prefetchFolds), is folded: its rows then
// are the batch's alone, so their final state is what the statements would have left
// and a COPY of it cannot conflict. Every later event of the batch on it is folded
// too, until a sync writes the rows (the batch's end, or a read); from then on the
// secret's rows are in the tables and its events go through the statements again. A
// live projector's batches never fold: their change notices read the rows before
// each change.

// gridSecretEvent says whether ev changes a secret's grid rows (applySecret).
func gridSecretEvent(ev domain.Event) bool {
	switch ev.(type) {
	case domain.SecretCreated, domain.SecretUpdated, domain.SecretValueDeleted, domain.SecretRolledBack, domain.SecretDeleted:
		return true
	}
	return false
}

// prefetchFolds finds the secrets the batch can fold (above), and those whose name
// row (secret_names, which only a creation writes, and which outlives a deletion)
// it can copy: it reads, in one round trip, which of the secrets the batch creates
// already have rows.
func (r *batchTx) prefetchFolds(recs []domain.Recorded) error {
	if !r.db.bulk {
		return nil
	}
	// first says, for each secret with a grid event, whether its first is a creation
	// the grid rows can be folded from.
	first := map[secretKey]bool{}
	var want []secretKey
	var orgs, ids []string
	for _, rec := range recs {
		if !gridSecretEvent(rec.Event) {
			continue
		}
		key := secretKey{rec.OrgID, rec.AggregateID}
		c, created := rec.Event.(domain.SecretCreated)
		if _, seen := first[key]; !seen {
			first[key] = created && isUUID(c.OwnerID)
			if created && isUUID(rec.OrgID) && isUUID(rec.AggregateID) {
				want = append(want, key)
				orgs, ids = append(orgs, rec.OrgID), append(ids, rec.AggregateID)
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	rows, err := r.query(`SELECT EXISTS (SELECT 1 FROM secrets s WHERE s.org_id = want.org_id AND s.id = want.id)
		    OR EXISTS (SELECT 1 FROM secret_values v WHERE v.org_id = want.org_id AND v.secret_id = want.id),
		  EXISTS (SELECT 1 FROM secret_names m WHERE m.org_id = want.org_id AND m.secret_id = want.id)
		FROM unnest($1::text[]::uuid[], $2::text[]::uuid[]) WITH ORDINALITY AS want(org_id, id, n) ORDER BY want.n`, orgs, ids)
	if err != nil {
		return fmt.Errorf("secrets to fold: %w", err)
	}
	type stored struct{ grid, name bool }
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (stored, error) {
		var s stored
		err := row.Scan(&s.grid, &s.name)
		return s, err
	})
	if err != nil {
		return fmt.Errorf("secrets to fold: %w", err)
	}
	if len(found) != len(want) {
		return fmt.Errorf("secrets to fold: %d answers for %d secrets", len(found), len(want))
	}
	if r.foldable == nil {
		r.foldable = make(map[secretKey]*foldedSecret, len(want))
		r.foldableNames = make(map[secretKey]int, len(want))
	}
	for i, key := range want {
		if first[key] && !found[i].grid {
			r.foldable[key] = nil
		}
		if !found[i].name {
			r.foldableNames[key] = -1
		}
	}
	return nil
}

// foldName keeps the name row a creation writes (INSERT … ON CONFLICT DO UPDATE) for
// the next sync to copy, when the batch began without one; false when the statement
// must write it.
func (r *batchTx) foldName(orgID, secretID, sealed string) bool {
	key := secretKey{orgID, secretID}
	i, ok := r.foldableNames[key]
	if !ok {
		return false
	}
	if i < 0 {
		row := nameCopyRow{key: key}
		row.orgID, row.orgText = copyUUIDText(pgText(orgID))
		row.secretID, row.secretText = copyUUIDText(pgText(secretID))
		r.nameRows = append(r.nameRows, row)
		i = len(r.nameRows) - 1
		r.foldableNames[key] = i
	}
	r.nameRows[i].sealed = pgText(sealed)
	return true
}

// foldOf is the folded state of rec's secret, made at its first event; nil when the
// batch does not fold it (the statements apply it).
func (r *batchTx) foldOf(rec domain.Recorded) *foldedSecret {
	if r.foldable == nil {
		return nil
	}
	key := secretKey{rec.OrgID, rec.AggregateID}
	f, ok := r.foldable[key]
	if !ok {
		return nil
	}
	if f == nil {
		f = &foldedSecret{org: rec.OrgID, id: rec.AggregateID}
		r.foldable[key] = f
		r.folded = append(r.folded, f)
	}
	return f
}

// takeFolds returns the rows of the folded secrets, as they are now, and ends their
// folding: from here on their rows are in the tables (the caller copies them before
// anything queued after this) and their events go through the statements.
func (r *batchTx) takeFolds() (secrets []secretCopyRow, values []valueCopyRow, names []nameCopyRow) {
	names = r.nameRows
	for i := range names {
		delete(r.foldableNames, names[i].key)
	}
	r.nameRows = nil
	if len(r.folded) == 0 {
		return nil, nil, names
	}
	for _, f := range r.folded {
		delete(r.foldable, secretKey{f.org, f.id})
		if f.exists {
			secrets = append(secrets, f.row)
		}
		values = append(values, f.values...)
	}
	r.folded = r.folded[:0]
	return secrets, values, names
}

// foldedSecret is one secret's grid rows as the statements would have left them.
type foldedSecret struct {
	org, id string
	// exists says whether the secrets row is there (row).
	exists bool
	row    secretCopyRow
	// values are its secret_values rows, one per environment, in the order first set.
	values []valueCopyRow
}

// create is SecretCreated's INSERT … ON CONFLICT DO NOTHING.
func (f *foldedSecret) create(r domain.Recorded, name, desc, owner string) {
	if f.exists {
		return
	}
	f.exists = true
	f.row = secretCopyRow{nameSealed: pgText(name), descSealed: pgText(desc), createdAt: r.Time, updatedAt: r.Time, version: 1, changedSeq: int64(r.Seq)}
	f.row.orgID, f.row.orgText = copyUUIDText(pgText(r.OrgID))
	f.row.id, f.row.idText = copyUUIDText(pgText(r.AggregateID))
	f.row.ownerID, f.row.ownerText = copyUUIDText(pgText(owner))
}

// describe is SecretUpdated's UPDATE of the description.
func (f *foldedSecret) describe(desc string) {
	if f.exists {
		f.row.descSealed = pgText(desc)
	}
}

// bump is bumpSecret's UPDATE.
func (f *foldedSecret) bump(r domain.Recorded) {
	if f.exists {
		f.row.version++
		f.row.updatedAt, f.row.changedSeq = r.Time, int64(r.Seq)
	}
}

// value is env's row, nil when there is none.
func (f *foldedSecret) value(env domain.Environment) *valueCopyRow {
	for i := range f.values {
		if f.values[i].env == pgText(string(env)) {
			return &f.values[i]
		}
	}
	return nil
}

// setValue is setValue's upsert of env's row.
func (f *foldedSecret) setValue(r domain.Recorded, env domain.Environment, version int, mask, sealed string) {
	v := f.value(env)
	if v == nil {
		f.values = append(f.values, valueCopyRow{env: pgText(string(env))})
		v = &f.values[len(f.values)-1]
		v.orgID, v.orgText = copyUUIDText(pgText(r.OrgID))
		v.secretID, v.secretText = copyUUIDText(pgText(r.AggregateID))
	}
	mask, sealed = pgText(mask), pgText(sealed)
	v.set, v.version, v.mask, v.sealed, v.updatedAt = true, int64(version), &mask, &sealed, r.Time
}

// removeValue is removeValue's UPDATE … RETURNING version, which fails the batch
// when env has no row.
func (f *foldedSecret) removeValue(r domain.Recorded, env domain.Environment) (int, error) {
	v := f.value(env)
	if v == nil {
		return 0, pgx.ErrNoRows
	}
	v.set, v.mask, v.sealed, v.updatedAt = false, nil, nil, r.Time
	return int(v.version), nil
}

// remove is deleteSecret's DELETEs of both tables' rows.
func (f *foldedSecret) remove() {
	f.exists = false
	f.row = secretCopyRow{}
	f.values = f.values[:0]
}

// secretColumnsIn are the columns of a secrets row as a rebuild copies it.
var secretColumnsIn = []string{"org_id", "id", "name_sealed", "description_sealed", "owner_id", "created_at", "updated_at", "version", "changed_seq"}

// secretCopyRow is a secrets row, typed, in secretColumnsIn's order; the uuids as
// auditCopyRow's (text that does not parse is sent for PostgreSQL to refuse).
type secretCopyRow struct {
	orgID, id, ownerID         pgtype.UUID
	orgText, idText, ownerText string
	nameSealed, descSealed     string
	createdAt, updatedAt       time.Time
	version, changedSeq        int64
}

func (r *secretCopyRow) appendValues(dst []any) []any {
	return append(dst, uuidValue(&r.orgID, &r.orgText), uuidValue(&r.id, &r.idText), textRef{&r.nameSealed}, textRef{&r.descSealed},
		uuidValue(&r.ownerID, &r.ownerText), timeRef{&r.createdAt}, timeRef{&r.updatedAt}, int8Ref{&r.version}, int8Ref{&r.changedSeq})
}

// valueColumnsIn are the columns of a secret_values row as a rebuild copies it.
var valueColumnsIn = []string{"org_id", "secret_id", "env", "is_set", "version", "mask", "sealed", "updated_at"}

// valueCopyRow is a secret_values row, typed, in valueColumnsIn's order.
type valueCopyRow struct {
	orgID, secretID     pgtype.UUID
	orgText, secretText string
	env                 string
	set                 bool
	version             int64
	mask, sealed        *string
	updatedAt           time.Time
}

func (r *valueCopyRow) appendValues(dst []any) []any {
	return append(dst, uuidValue(&r.orgID, &r.orgText), uuidValue(&r.secretID, &r.secretText), textRef{&r.env}, r.set,
		int8Ref{&r.version}, sealedValue(r.mask), sealedValue(r.sealed), timeRef{&r.updatedAt})
}

// insertDeletion keeps a deleted secret's tombstone (secret_deletions) for the next
// sync to copy, where the live projector inserts it ON CONFLICT DO NOTHING. Its key
// is the organization, the event's sequence and the secret: only a second deletion
// of the secret in the same message can conflict (the schema is fresh and its
// checkpoint lets no event be applied twice), and it is left out here, whether or not
// a sync copied the first in between (deletedOfSeq).
func (r *batchTx) insertDeletion(rec domain.Recorded) {
	key := secretKey{rec.OrgID, rec.AggregateID}
	if rec.Seq != r.deletedSeq {
		r.deletedSeq, r.deletedOfSeq = rec.Seq, r.deletedOfSeq[:0]
	}
	for _, k := range r.deletedOfSeq {
		if k == key {
			return
		}
	}
	r.deletedOfSeq = append(r.deletedOfSeq, key)
	row := deletionCopyRow{seq: int64(rec.Seq)}
	row.orgID, row.orgText = copyUUIDText(pgText(rec.OrgID))
	row.secretID, row.secretText = copyUUIDText(pgText(rec.AggregateID))
	r.deletionRows = append(r.deletionRows, row)
}

// deletionColumnsIn are the columns of a secret_deletions row as a rebuild copies it.
var deletionColumnsIn = []string{"org_id", "secret_id", "seq"}

// deletionCopyRow is a secret_deletions row, typed, in deletionColumnsIn's order.
type deletionCopyRow struct {
	orgID, secretID     pgtype.UUID
	orgText, secretText string
	seq                 int64
}

func (r *deletionCopyRow) appendValues(dst []any) []any {
	return append(dst, uuidValue(&r.orgID, &r.orgText), uuidValue(&r.secretID, &r.secretText), int8Ref{&r.seq})
}

// nameColumnsIn are the columns of a secret_names row as a rebuild copies it.
var nameColumnsIn = []string{"org_id", "secret_id", "name_sealed"}

// nameCopyRow is a secret_names row, typed, in nameColumnsIn's order.
type nameCopyRow struct {
	key                 secretKey
	orgID, secretID     pgtype.UUID
	orgText, secretText string
	sealed              string
}

func (r *nameCopyRow) appendValues(dst []any) []any {
	return append(dst, uuidValue(&r.orgID, &r.orgText), uuidValue(&r.secretID, &r.secretText), textRef{&r.sealed})
}

type (
	deletionCopySource = copySource[deletionCopyRow, *deletionCopyRow]
	nameCopySource     = copySource[nameCopyRow, *nameCopyRow]
	secretCopySource   = copySource[secretCopyRow, *secretCopyRow]
	valueCopySource    = copySource[valueCopyRow, *valueCopyRow]
)
