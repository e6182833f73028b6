package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// auditScenario runs creates, updates, allowed and denied reveals, a rollback and a
// delete, and returns the last sequence and the secret's id.
func auditScenario(tb testing.TB, r *rig) (uint64, string, commands.Meta) {
	tb.Helper()
	ctx := context.Background()
	viewerRes, err := r.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "viewer@example.com", Name: "Vic Viewer", Password: domain.NewPlaintext("tall-lamp-seven-oaks")})
	if err != nil {
		tb.Fatal(err)
	}
	viewer := commands.Meta{UserID: viewerRes.ID, Actor: domain.Actor{IP: "10.0.0.7", UserAgent: "curl/8"}}
	if _, err := r.h.AddMember.Handle(ctx, r.owner, commands.AddMember{OrgID: r.orgID, Email: "viewer@example.com", Role: domain.RoleViewer}); err != nil {
		tb.Fatal(err)
	}
	s := r.create(tb, "API_KEY", map[domain.Environment]string{domain.Development: "dev-1", domain.Production: "prod-1"})
	v2 := domain.NewPlaintext("prod-2")
	if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: s.ID, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v2}}); err != nil {
		tb.Fatal(err)
	}
	if _, err := r.h.RevealSecret.Handle(ctx, viewer, commands.RevealSecret{OrgID: r.orgID, SecretID: s.ID, Env: domain.Production}); err != nil {
		tb.Fatal(err)
	}
	if _, err := r.h.UpdateSecret.Handle(ctx, viewer, commands.UpdateSecret{OrgID: r.orgID, SecretID: s.ID, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v2}}); !domain.IsCode(err, domain.CodeForbidden) {
		tb.Fatalf("viewer update: %v", err)
	}
	if _, err := r.h.RollbackSecret.Handle(ctx, r.owner, commands.RollbackSecret{OrgID: r.orgID, SecretID: s.ID, Env: domain.Production, Version: 1}); err != nil {
		tb.Fatal(err)
	}
	last, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: s.ID, Env: ptr(domain.Development)})
	if err != nil {
		tb.Fatal(err)
	}
	r.wait(tb, last.Seq)
	return last.Seq, s.ID, viewer
}

func TestAuditTrailRecordsEveryActionAndOutcome(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	_, secretID, viewer := auditScenario(t, r)
	entries, next, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s/%s/%s", e.Action, e.Outcome, e.Env))
	}
	want := []string{
		"secret.deleted/success/development", "secret.rolled_back/success/production", "secret.updated/denied/",
		"secret.revealed/success/production", "secret.updated/success/production",
		"secret.created/success/production", "secret.created/success/development", "member.added/success/",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || next != "" {
		t.Fatalf("audit trail:\n got %v\nwant %v", got, want)
	}
	reveal := entries[3]
	if reveal.ActorID != viewer.UserID || reveal.ActorEmail != "viewer@example.com" || reveal.IP != "10.0.0.7" || reveal.UserAgent != "curl/8" || reveal.SecretName != "API_KEY" || reveal.SecretID != secretID {
		t.Fatalf("reveal entry = %+v", reveal)
	}
	denied, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Actor: "viewer@example.com", Action: "secret.updated"})
	if err != nil || len(denied) != 1 || denied[0].Outcome != "denied" {
		t.Fatalf("filtered: %+v %v", denied, err)
	}
	page, cursor, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Limit: 3})
	if err != nil || len(page) != 3 || cursor == "" {
		t.Fatalf("page: %d %q %v", len(page), cursor, err)
	}
	rest, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Limit: 100, Cursor: cursor})
	if err != nil || len(rest) != len(entries)-3 || rest[0].ID() != entries[3].ID() {
		t.Fatalf("second page: %d %v", len(rest), err)
	}
	n := 0
	if err := r.db.Audit.StreamAudit(ctx, r.orgID, projections.AuditFilter{Env: domain.Production}, func(projections.AuditEntry) error { n++; return nil }); err != nil || n != 4 {
		t.Fatalf("stream production entries: %d %v", n, err)
	}
	versions, err := r.db.Secrets.ListVersions(ctx, r.orgID, secretID, domain.Production)
	if err != nil {
		t.Fatal(err)
	}
	vs := []string{}
	for _, v := range versions {
		vs = append(vs, fmt.Sprintf("%d:%s", v.Version, v.Action))
	}
	if fmt.Sprint(vs) != "[3:rolled_back 2:updated 1:created]" {
		t.Fatalf("versions = %v", vs)
	}
}

func TestAuditVerifyDetectsAnEditedRow(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	auditScenario(t, r)
	ok, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store)
	if err != nil {
		t.Fatal(err)
	}
	if !ok.OK || ok.Checked != 8 || ok.Head == "" {
		t.Fatalf("verify before tampering = %+v", ok)
	}
	entries, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Action: "secret.revealed"})
	if err != nil || len(entries) != 1 {
		t.Fatal(entries, err)
	}
	conn := connectLive(t, r.url)
	if _, err := conn.Exec(ctx, `SET keyledger.bypass_rls = 'on'; UPDATE audit_log SET ip = '192.0.2.1' WHERE org_id = '`+r.orgID+`' AND action = 'secret.revealed'`); err != nil {
		t.Fatal(err)
	}
	bad, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store)
	if err != nil {
		t.Fatal(err)
	}
	if bad.OK || bad.BrokenSeq != entries[0].Seq || bad.Checked != 4 {
		t.Fatalf("verify after tampering = %+v, want broken at seq %d", bad, entries[0].Seq)
	}
}

func TestReplayMatchesReadModelAndTravelsInTime(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	a := r.create(t, "FIRST", map[domain.Environment]string{domain.Development: "one"})
	r.wait(t, a.Seq)
	time.Sleep(5 * time.Millisecond)
	t1 := time.Now()
	time.Sleep(5 * time.Millisecond)
	b := r.create(t, "SECOND", map[domain.Environment]string{domain.Staging: "two"})
	v := domain.NewPlaintext("one-b")
	u, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: a.ID, Values: map[domain.Environment]*domain.Plaintext{domain.Development: &v}})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, max(b.Seq, u.Seq))

	then, _, err := projections.SecretsAsOf(ctx, r.env.Store, r.orgID, t1, projections.SecretFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(then) != 1 || then[0].Name != "FIRST" || then[0].Environments[domain.Development].Version != 1 {
		t.Fatalf("as of t1: %+v", then)
	}
	now, _, err := projections.SecretsAsOf(ctx, r.env.Store, r.orgID, time.Now(), projections.SecretFilter{})
	if err != nil {
		t.Fatal(err)
	}
	live, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(now) != 2 || fmt.Sprint(now) != fmt.Sprint(live) {
		t.Fatalf("replay differs from the read model:\nreplay %+v\n  live %+v", now, live)
	}
}
