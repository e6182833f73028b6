package projections

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// auditCopyRow is one audit row as a rebuild copies it (insertAudit), in
// auditColumnsIn's order, typed: kept as 18 values of type any, each string, time and
// number was an allocation of its own, and passing them through pgArgs and parsing the
// two uuids from the values another few, per reveal of the log.
type auditCopyRow struct {
	orgID pgtype.UUID
	// orgText is the organization id when it is not a UUID, sent as text for
	// PostgreSQL to refuse as it would have.
	orgText string
	seq     int64
	idx     int64
	eventID string
	at      time.Time
	action  string
	outcome string
	actorID string
	// actorEmail and the text columns after it are as the entry has them.
	actorEmail string
	// secretID is NULL unless Valid; secretText as orgText.
	secretID   pgtype.UUID
	secretText string
	nameSealed *string
	// env is NULL when empty, as nullable makes it for the INSERT.
	env         string
	details     string
	ip          string
	userAgent   string
	prevHash    string
	hash        string
	namesSealed *string
}

// newAuditCopyRow makes the row of entry e, its text through pgText as every
// argument the projector sends (the entry's text is storable already: this costs a
// scan, not a copy).
func newAuditCopyRow(e AuditEntry, nameSealed, namesSealed *string) auditCopyRow {
	row := auditCopyRow{
		seq: int64(e.Seq), idx: int64(e.Idx), eventID: pgText(e.EventID), at: e.At,
		action: pgText(e.Action), outcome: pgText(e.Outcome), actorID: pgText(e.ActorID), actorEmail: pgText(e.ActorEmail),
		nameSealed: pgTextPtr(nameSealed), env: pgText(e.Env),
		details: pgText(e.Details), ip: pgText(e.IP), userAgent: pgText(e.UserAgent),
		prevHash: pgText(e.PrevHash), hash: pgText(e.Hash), namesSealed: pgTextPtr(namesSealed),
	}
	row.orgID, row.orgText = copyUUIDText(pgText(e.OrgID))
	if e.SecretID != "" {
		row.secretID, row.secretText = copyUUIDText(pgText(e.SecretID))
	}
	return row
}

// copyUUIDText parses s as a UUID as pgtype.UUID's Scan does; one that is not is
// returned as text instead. An id as the read models print it (parseID: lowercase,
// hyphenated, as every id the log holds) is read without Scan's allocations; anything
// else goes to Scan.
func copyUUIDText(s string) (pgtype.UUID, string) {
	if id, ok := parseID(s); ok {
		return pgtype.UUID{Bytes: id, Valid: true}, ""
	}
	var u pgtype.UUID
	if err := u.Scan(s); err != nil {
		return pgtype.UUID{}, s
	}
	return u, ""
}

// uuidValue is how a uuid column of the row goes to COPY: the parsed UUID, the text
// that did not parse, or NULL.
func uuidValue(u *pgtype.UUID, text *string) any {
	switch {
	case u.Valid:
		return uuidRef{u}
	case *text != "":
		return textRef{text}
	}
	return nil
}

// nullableValue is a text column of the row, NULL when empty.
func nullableValue(s *string) any {
	if *s == "" {
		return nil
	}
	return textRef{s}
}

// sealedValue is a nullable sealed text of the row.
func sealedValue(s *string) any {
	if s == nil {
		return nil
	}
	return textRef{s}
}

// textRef, int8Ref, uuidRef and timeRef hand a column of a row to pgx by reference.
// Each is one pointer, which an interface holds without an allocation, and each
// implements the valuer pgx's codec for the column encodes directly. A string, an
// int64 or a time in an interface is an allocation each; a pointer to one is encoded
// through reflection, which allocates the value again (pgx's derefPointerEncodePlan).
type (
	textRef struct{ p *string }
	int8Ref struct{ p *int64 }
	uuidRef struct{ p *pgtype.UUID }
	timeRef struct{ p *time.Time }
)

func (r textRef) TextValue() (pgtype.Text, error) { return pgtype.Text{String: *r.p, Valid: true}, nil }

func (r int8Ref) Int64Value() (pgtype.Int8, error) { return pgtype.Int8{Int64: *r.p, Valid: true}, nil }

func (r uuidRef) UUIDValue() (pgtype.UUID, error) { return *r.p, nil }

func (r timeRef) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: *r.p, Valid: true}, nil
}

// copySource hands a rebuild's typed rows (audit rows, version rows) to CopyFrom. Its
// values point into the rows, in one slice it reuses: CopyFrom encodes each row before
// it asks for the next.
type copySource[R any, P interface {
	*R
	// appendValues appends the row's columns, by reference, in the table's order.
	appendValues(dst []any) []any
}] struct {
	rows   []R
	next   int
	values []any
}

func (s *copySource[R, P]) Next() bool {
	s.next++
	return s.next <= len(s.rows)
}

func (s *copySource[R, P]) Values() ([]any, error) {
	s.values = P(&s.rows[s.next-1]).appendValues(s.values[:0])
	return s.values, nil
}

func (s *copySource[R, P]) Err() error { return nil }

// auditCopySource hands a rebuild's audit rows to CopyFrom.
type auditCopySource = copySource[auditCopyRow, *auditCopyRow]

func (r *auditCopyRow) appendValues(dst []any) []any {
	return append(dst, uuidValue(&r.orgID, &r.orgText), int8Ref{&r.seq}, int8Ref{&r.idx}, textRef{&r.eventID},
		timeRef{&r.at}, textRef{&r.action}, textRef{&r.outcome}, textRef{&r.actorID}, textRef{&r.actorEmail},
		uuidValue(&r.secretID, &r.secretText), sealedValue(r.nameSealed), nullableValue(&r.env), textRef{&r.details},
		textRef{&r.ip}, textRef{&r.userAgent}, textRef{&r.prevHash}, textRef{&r.hash}, sealedValue(r.namesSealed))
}

// secretKey names a secret across organizations.
type secretKey struct{ org, id string }

// sealedName is a secret's name and what sealing it for its audit rows gave.
type sealedName struct{ name, sealed string }

// sealSecretName seals a secret's name for its grid row, its name row and its audit
// rows. A batch seals each secret's name once and gives every later row of the secret
// the same sealed text: the same name under the same key and the same AAD (nameAAD),
// opened the same way. Sealing it again cost an AES-GCM seal, a nonce and their
// allocations per row: three for every create in the live projector (its grid row,
// its name row and its audit row), one per reveal in a rebuild. A rebuild's batches
// keep what they sealed from one batch to the next (writer.kept); a live batch keeps
// it for itself. A name sealed before a rotation of its organization's data key in the
// same batch stays sealed with the key before, which still opens it (only an erasure
// destroys keys, and it drops what its organization's batch kept: erasure.go).
func (db *writer) sealSecretName(ctx context.Context, res *batchTx, orgID, secretID, name string) (string, error) {
	key := secretKey{orgID, secretID}
	if s, ok := res.sealed[key]; ok && s.name == name {
		return s.sealed, nil
	}
	sealed, err := db.keys.Seal(ctx, orgID, []byte(name), nameAAD(orgID, secretID))
	if err != nil {
		return "", err
	}
	if res.sealed == nil {
		res.sealed = map[secretKey]sealedName{}
	}
	res.sealed[key] = sealedName{name: name, sealed: sealed}
	return sealed, nil
}
