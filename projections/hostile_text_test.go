package projections_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/projections"
)

// appendRaw appends an event straight to the log, past every domain rule, as an old
// version of Keyledger (or anything else with the keys) may have.
func appendRaw(tb testing.TB, r *rig, agg eventstore.Aggregate, ev domain.Event, actor domain.Actor) domain.Recorded {
	tb.Helper()
	recs, err := r.env.Store.Append(context.Background(), eventstore.Pending{Aggregate: agg, Unchecked: true, Position: 1, Events: []domain.Event{ev}, Actor: actor})
	if err != nil {
		tb.Fatal(err)
	}
	return recs[0]
}

// A NUL (or a byte that is not UTF-8) in any text of any event must not stop the
// projector: it reaches the log's head, every row is there, and the audit chain still
// verifies against the log.
func TestProjectorIsTotalOverHostileText(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	const bad = "evil\x00name\xff\u2028"
	userID, orgID, secretID, stID, ptID := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	actor := domain.Actor{UserID: userID, IP: "192.0.2.1\x00", UserAgent: "curl/8\x00\xfe"}
	appendRaw(t, r, eventstore.Aggregate{OrgID: domain.PlatformScope, Type: domain.AggregateUser, ID: userID},
		domain.UserRegistered{Email: "mallory\x00@example.com", Name: bad, PasswordHash: "h"}, actor)
	org := eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateOrganization, ID: orgID}
	appendRaw(t, r, org, domain.OrganizationCreated{Name: bad, OwnerID: userID, RevealPolicy: domain.RevealAllowed}, actor)
	renamed := "renamed\x00" + bad
	appendRaw(t, r, org, domain.OrganizationUpdated{Name: &renamed}, actor)
	appendRaw(t, r, org, domain.MemberAdded{UserID: r.owner.UserID, Role: domain.RoleViewer}, actor)
	appendRaw(t, r, eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateServiceToken, ID: stID},
		domain.ServiceTokenCreated{Name: bad, Environments: []domain.Environment{domain.Production}, SecretHash: "h"}, actor)
	appendRaw(t, r, eventstore.Aggregate{OrgID: domain.PlatformScope, Type: domain.AggregatePersonalToken, ID: ptID},
		domain.PersonalTokenCreated{UserID: userID, Name: bad, SecretHash: "h"}, actor)
	secret := eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateSecret, ID: secretID}
	nulMask := "\x00\x00\x00\x00***\x00\x1b"
	appendRaw(t, r, secret, domain.SecretCreated{Name: "NUL\x00NAME", Description: bad, OwnerID: userID,
		Values: map[domain.Environment]domain.ValueVersion{domain.Production: {Version: 1, Mask: nulMask, Sealed: "sealed\x00"}}}, actor)
	desc := "desc\x00"
	appendRaw(t, r, secret, domain.SecretUpdated{Description: &desc,
		Set: map[domain.Environment]domain.ValueVersion{domain.Production: {Version: 2, Mask: nulMask, Sealed: "s\x00"}}}, actor)
	appendRaw(t, r, eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateAccess, ID: uuid.NewString()},
		domain.SecretsFetched{Env: domain.Production, Names: []string{"NUL\x00NAME"}}, actor)
	// A command after them all: the projector must get past them to show it.
	after := r.create(t, "AFTER_THE_HOSTILE_EVENTS", map[domain.Environment]string{domain.Production: "v"})
	r.wait(t, after.Seq)

	clean := func(what, s string) {
		t.Helper()
		if strings.ContainsRune(s, 0) || !strings.Contains(s, "\uFFFD") {
			t.Errorf("%s = %q, want its NUL replaced by U+FFFD", what, s)
		}
	}
	u, err := r.db.Directory.GetUser(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	clean("user name", u.Name)
	clean("user email", u.Email)
	o, err := r.db.Directory.GetOrg(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	clean("org name", o.Name)
	sts, err := r.db.Tokens.ListServiceTokens(ctx, orgID)
	if err != nil || len(sts) != 1 {
		t.Fatalf("service tokens %+v, %v", sts, err)
	}
	clean("service token name", sts[0].Name)
	pts, err := r.db.Tokens.ListPersonalTokens(ctx, userID)
	if err != nil || len(pts) != 1 {
		t.Fatalf("personal tokens %+v, %v", pts, err)
	}
	clean("personal token name", pts[0].Name)
	row, err := r.db.Secrets.GetSecret(ctx, orgID, secretID)
	if err != nil {
		t.Fatal(err)
	}
	if row.Name != "NUL\x00NAME" || row.Description != desc {
		// Names and descriptions are sealed, not text: they keep every byte.
		t.Errorf("secret name %q, description %q", row.Name, row.Description)
	}
	if m := row.Environments[domain.Production].Mask; m != "\uFFFD\uFFFD\uFFFD\uFFFD***\uFFFD\uFFFD" {
		t.Errorf("mask = %q, want control characters replaced", m)
	}
	versions, err := r.db.Secrets.ListVersions(ctx, orgID, secretID, domain.Production)
	if err != nil || len(versions) != 2 {
		t.Fatalf("versions %+v, %v", versions, err)
	}
	for _, v := range versions {
		if strings.ContainsFunc(v.Mask, domain.IsControl) {
			t.Errorf("version mask %q shows a control character", v.Mask)
		}
	}
	entries, _, err := r.db.Audit.ListAudit(ctx, orgID, projections.AuditFilter{})
	if err != nil || len(entries) < 5 {
		t.Fatalf("audit %d entries, %v", len(entries), err)
	}
	for _, e := range entries {
		clean("audit ip", e.IP)
		clean("audit user agent", e.UserAgent)
	}
	v, err := r.db.Audit.VerifyAudit(ctx, orgID, r.env.Store)
	if err != nil || !v.OK {
		t.Fatalf("audit verification %+v, %v", v, err)
	}
}

// failInserts makes every insert into table fail, as a lost permission or a full
// disk would, until the returned function undoes it.
func failInserts(tb testing.TB, url, table string) func() {
	tb.Helper()
	ctx := context.Background()
	conn := connectLive(tb, url)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'test: this table refuses writes'; END $$;
		CREATE TRIGGER refuse_insert BEFORE INSERT ON `+table+` FOR EACH ROW EXECUTE FUNCTION refuse_insert()`); err != nil {
		tb.Fatal(err)
	}
	return func() {
		if _, err := conn.Exec(ctx, `DROP TRIGGER refuse_insert ON `+table); err != nil {
			tb.Fatal(err)
		}
	}
}

func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A projection that cannot advance says so, naming the event it is stuck on, keeps
// retrying (it never skips the event), and recovers by itself once it can write.
func TestStalledProjectionIsReportedAndRecovers(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	before := r.create(t, "BEFORE", nil)
	r.wait(t, before.Seq)
	if _, stalled := r.db.Progress.ProjectionStall(); stalled {
		t.Fatal("stalled before anything failed")
	}
	undo := failInserts(t, r.url, "personal_tokens")
	tok, err := r.h.PersonalTokens.Create(ctx, r.owner, commands.CreatePersonalToken{Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	later := r.create(t, "LATER", nil)
	var st projections.Stall
	eventually(t, "the projection reports a stall", func() bool {
		var stalled bool
		st, stalled = r.db.Progress.ProjectionStall()
		return stalled
	})
	if st.Seq != tok.Seq || st.Attempts < 3 || !strings.Contains(st.Reason, "refuses writes") {
		t.Fatalf("stall %+v, want it stuck on seq %d", st, tok.Seq)
	}
	if cp, err := r.db.Progress.Checkpoint(ctx); err != nil || cp != tok.Seq-1 {
		t.Fatalf("checkpoint %d, %v: want %d, the event before the stuck one (none skipped)", cp, err, tok.Seq-1)
	}
	undo()
	r.wait(t, later.Seq)
	eventually(t, "the stall clears", func() bool { _, stalled := r.db.Progress.ProjectionStall(); return !stalled })
	if pts, err := r.db.Tokens.ListPersonalTokens(ctx, r.owner.UserID); err != nil || len(pts) != 1 {
		t.Fatalf("after recovery: personal tokens %+v, %v", pts, err)
	}
}

// Row-level security has no switch: the reader role setting keyledger.bypass_rls
// (for the session, as any query could) still sees no org it is not scoped to, and a
// transaction scoped to one user sees no other user's row or tokens.
func TestRowLevelSecurityHasNoBypass(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	res := r.create(t, "ISOLATED", map[domain.Environment]string{domain.Production: "p"})
	bob, err := r.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "bob@example.com", Name: "Bob", Password: domain.NewPlaintext("correct horse battery")})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := r.h.PersonalTokens.Create(ctx, r.owner, commands.CreatePersonalToken{Name: "olivia's laptop"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, max(res.Seq, bob.Seq, pt.Seq))
	conn := connectLive(t, r.url)
	count := func(setup, query string) int {
		t.Helper()
		var n int
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL ROLE keyledger_reader`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT set_config('keyledger.bypass_rls', 'on', false)`); err != nil {
				return err
			}
			if setup != "" {
				if _, err := tx.Exec(ctx, setup); err != nil {
					return err
				}
			}
			return tx.QueryRow(ctx, query).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, table := range []string{"orgs", "members", "secrets", "secret_values", "secret_versions", "secret_names",
		"audit_log", "audit_heads", "service_tokens", "users", "personal_tokens", "webhooks"} {
		if n := count("", `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("with bypass_rls on and no scope, the reader sees %d rows of %s", n, table)
		}
	}
	// Scoped to another org (a fresh id), nothing of Acme shows.
	other := `SELECT set_config('keyledger.org_id', '` + uuid.NewString() + `', true)`
	if n := count(other, `SELECT count(*) FROM secrets`); n != 0 {
		t.Errorf("scoped to another org, the reader sees %d secrets", n)
	}
	// Scoped to Bob, who belongs to no org: his own row only, and nobody's tokens.
	asBob := `SELECT set_config('keyledger.user_id', '` + bob.ID + `', true)`
	if n := count(asBob, `SELECT count(*) FROM users`); n != 1 {
		t.Errorf("scoped to Bob, the reader sees %d users, want 1 (Bob)", n)
	}
	if n := count(asBob, `SELECT count(*) FROM users WHERE id = '`+r.owner.UserID+`'`); n != 0 {
		t.Errorf("scoped to Bob, the reader sees Olivia's user row")
	}
	if n := count(asBob, `SELECT count(*) FROM personal_tokens`); n != 0 {
		t.Errorf("scoped to Bob, the reader sees %d personal tokens of Olivia", n)
	}
	if n := count(asBob, `SELECT count(*) FROM orgs`); n != 0 {
		t.Errorf("scoped to Bob, the reader sees %d orgs he is not a member of", n)
	}
	// The queries still answer what they should through the scopes.
	if pts, err := r.db.Tokens.ListPersonalTokens(ctx, r.owner.UserID); err != nil || len(pts) != 1 {
		t.Fatalf("Olivia's tokens %+v, %v", pts, err)
	}
	if ms, err := r.db.Directory.MembershipsOf(ctx, r.owner.UserID); err != nil || len(ms) != 1 || ms[0].OrgName != "Acme" {
		t.Fatalf("Olivia's memberships %+v, %v", ms, err)
	}
	if ms, err := r.db.Directory.ListMembers(ctx, r.orgID); err != nil || len(ms) != 1 || ms[0].Email != "owner@example.com" {
		t.Fatalf("Acme's members %+v, %v", ms, err)
	}
	if u, err := r.db.Directory.GetUser(ctx, bob.ID); err != nil || u.Email != "bob@example.com" {
		t.Fatalf("Bob %+v, %v", u, err)
	}
}
