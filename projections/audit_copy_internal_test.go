package projections

import (
	"context"
	"testing"
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
	if keep > 0 || hand > 0 {
		t.Fatalf("%.0f allocations to keep an audit row and %.0f to hand it to COPY, want none", keep, hand)
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
	if s, ok := v[0].(*string); !ok || *s != "not-a-uuid" {
		t.Errorf("org_id %#v, want the text that is not a UUID", v[0])
	}
	if v[9] != nil || v[10] != (*string)(nil) || v[17] != (*string)(nil) {
		t.Errorf("secret_id %#v, secret_name_sealed %#v, names_sealed %#v: want NULLs", v[9], v[10], v[17])
	}
	if s := v[14].(*string); *s != "curl\uFFFD" {
		t.Errorf("user_agent %q, want its NUL replaced", *s)
	}
	if s := v[11].(*string); *s != "production" {
		t.Errorf("env %q", *s)
	}
	if src.Next() {
		t.Fatal("a second row")
	}
}
