package projections

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// A rebuild keeps an audit row and hands it to COPY without an allocation of its
// own (auditCopyRow): as 18 values of type any, passed through pgArgs and with their
// uuids parsed from those values, a reveal's row cost 25 allocations.
func TestRebuildAuditRowAllocations(t *testing.T) {
	r := newBatchTx(context.Background(), &recordingTx{}, &writer{bulk: true})
	e := auditRow(7)
	e.SecretID, e.Env = "6f1c2d3e-0000-4000-8000-000000000002", "production"
	sealed := "v2.sealed-name"
	r.auditRows = make([]auditCopyRow, 0, 1)
	keep := testing.AllocsPerRun(1000, func() {
		r.auditRows = r.auditRows[:0]
		r.insertAudit(e, &sealed, nil)
	})
	src := &auditCopySource{rows: r.auditRows, values: make([]any, 0, len(auditColumnsIn))}
	hand := testing.AllocsPerRun(1000, func() {
		src.next = 0
		for src.Next() {
			if _, err := src.Values(); err != nil {
				t.Fatal(err)
			}
		}
	})
	// pgx encodes the values as COPY does, with the columns' types (pointers went
	// through reflection there, which allocated each value again).
	oids := []uint32{pgtype.UUIDOID, pgtype.Int8OID, pgtype.Int4OID, pgtype.TextOID, pgtype.TimestamptzOID, pgtype.TextOID,
		pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.UUIDOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID,
		pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID, pgtype.TextOID}
	m := pgtype.NewMap()
	buf := make([]byte, 0, 4096)
	encode := func() {
		src.next = 0
		buf = buf[:0]
		for src.Next() {
			values, _ := src.Values()
			for i, v := range values {
				out, err := m.Encode(oids[i], pgtype.BinaryFormatCode, v, buf)
				if err != nil {
					t.Fatalf("column %s: %v", auditColumnsIn[i], err)
				}
				if out != nil { // nil for a NULL, as COPY's encoding has it
					buf = out
				}
			}
		}
	}
	encode() // pgx plans each type's encoding once
	encoded := testing.AllocsPerRun(1000, encode)
	if keep > 0 || hand > 0 || encoded > 0 {
		t.Fatalf("%.0f allocations to keep an audit row, %.0f to hand it to COPY and %.0f to encode it, want none", keep, hand, encoded)
	}
}

// The values handed to COPY are the row's, in auditColumnsIn's order: the uuids
// parsed (NULL for no secret, the text for PostgreSQL to refuse when not a UUID), the
// text through pgText as every argument the projector sends.
func TestAuditCopyRowValues(t *testing.T) {
	t.Parallel()
	e := auditRow(7)
	e.OrgID, e.UserAgent, e.Env = "not-a-uuid", "curl\x00", "production"
	src := &auditCopySource{rows: []auditCopyRow{newAuditCopyRow(e, nil, nil)}}
	if !src.Next() {
		t.Fatal("no row")
	}
	v, err := src.Values()
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != len(auditColumnsIn) {
		t.Fatalf("%d values for %d columns", len(v), len(auditColumnsIn))
	}
	text := func(col int) (string, bool) {
		t, ok := v[col].(pgtype.TextValuer)
		if !ok {
			return "", false
		}
		tv, err := t.TextValue()
		return tv.String, err == nil && tv.Valid
	}
	if s, ok := text(0); !ok || s != "not-a-uuid" {
		t.Errorf("org_id %#v, want the text that is not a UUID", v[0])
	}
	if v[9] != nil || v[10] != nil || v[17] != nil {
		t.Errorf("secret_id %#v, secret_name_sealed %#v, names_sealed %#v: want NULLs", v[9], v[10], v[17])
	}
	if s, _ := text(14); s != "curl\uFFFD" {
		t.Errorf("user_agent %q, want its NUL replaced", s)
	}
	if s, _ := text(11); s != "production" {
		t.Errorf("env %q", s)
	}
	if n, err := v[1].(pgtype.Int64Valuer).Int64Value(); err != nil || n.Int64 != 7 {
		t.Errorf("seq %+v, %v", n, err)
	}
	if at, err := v[4].(pgtype.TimestamptzValuer).TimestamptzValue(); err != nil || !at.Time.Equal(e.At) {
		t.Errorf("at %+v, %v", at, err)
	}
	if src.Next() {
		t.Fatal("a second row")
	}
}

// An audit entry names a secret whose name the batch knows without an allocation:
// the lookup's key, concatenated, was one per entry.
func TestKnownSecretNameLookupAllocatesNothing(t *testing.T) {
	r := newBatchTx(context.Background(), &recordingTx{}, &writer{bulk: true, kept: &keptNames{}})
	const org, id = "6f1c2d3e-0000-4000-8000-000000000001", "6f1c2d3e-0000-4000-8000-000000000002"
	r.names[secretKey{org, id}] = "DATABASE_URL"
	allocs := testing.AllocsPerRun(1000, func() {
		if n, err := r.secretName(org, id); err != nil || n != "DATABASE_URL" {
			t.Fatalf("name %q, %v", n, err)
		}
	})
	if allocs > 0 {
		t.Fatalf("%.0f allocations to look up a known secret name, want none", allocs)
	}
}
