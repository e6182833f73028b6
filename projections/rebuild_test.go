package projections_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/projections"
)

// mixedHistory appends n rounds of every kind of event: creates, updates, removals,
// reveals, denied attempts, rollbacks, deletes and membership changes.
func mixedHistory(tb testing.TB, r *rig, rounds int) uint64 {
	tb.Helper()
	ctx := context.Background()
	vres, err := r.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "v@example.com", Name: "V", Password: domain.NewPlaintext("tall-lamp-seven-oaks")})
	if err != nil {
		tb.Fatal(err)
	}
	viewer := commands.Meta{UserID: vres.ID}
	if _, err := r.h.AddMember.Handle(ctx, r.owner, commands.AddMember{OrgID: r.orgID, Email: "v@example.com", Role: domain.RoleViewer}); err != nil {
		tb.Fatal(err)
	}
	var last uint64
	note := func(res commands.Result, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		last = max(last, res.Seq)
	}
	noteSecret := func(res commands.SecretResult, err error) {
		tb.Helper()
		note(res.Result, err)
	}
	for i := range rounds {
		s := r.create(tb, fmt.Sprintf("KEY_%04d", i), map[domain.Environment]string{domain.Development: fmt.Sprint("d", i), domain.Production: fmt.Sprint("p", i)})
		v := domain.NewPlaintext(fmt.Sprint("p2-", i))
		desc := fmt.Sprint("changed ", i)
		noteSecret(r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: s.ID, Description: &desc,
			Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v, domain.Development: nil}}))
		rev, err := r.h.RevealSecret.Handle(ctx, viewer, commands.RevealSecret{OrgID: r.orgID, SecretID: s.ID, Env: domain.Production})
		note(commands.Result{Seq: rev.Seq}, err)
		if _, err := r.h.DeleteSecret.Handle(ctx, viewer, commands.DeleteSecret{OrgID: r.orgID, SecretID: s.ID}); !domain.IsCode(err, domain.CodeForbidden) {
			tb.Fatalf("viewer delete: %v", err)
		}
		noteSecret(r.h.RollbackSecret.Handle(ctx, r.owner, commands.RollbackSecret{OrgID: r.orgID, SecretID: s.ID, Env: domain.Production, Version: 1}))
		if i%3 == 0 {
			note(r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: s.ID}))
		}
		if i%10 == 0 {
			role := domain.RoleEditor
			if i%20 == 0 {
				role = domain.RoleViewer
			}
			note(r.h.ChangeMemberRole.Handle(ctx, r.owner, commands.ChangeMemberRole{OrgID: r.orgID, UserID: vres.ID, Role: role}))
		}
	}
	return last
}

type snapshot struct {
	secrets, audit, members, versions string
}

func snap(tb testing.TB, r *rig) snapshot {
	tb.Helper()
	ctx := context.Background()
	rows, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	var audit []projections.AuditEntry
	if err := r.db.Audit.StreamAudit(ctx, r.orgID, projections.AuditFilter{}, func(e projections.AuditEntry) error { audit = append(audit, e); return nil }); err != nil {
		tb.Fatal(err)
	}
	members, err := r.db.Directory.ListMembers(ctx, r.orgID)
	if err != nil {
		tb.Fatal(err)
	}
	versions := ""
	for _, row := range rows {
		vs, err := r.db.Secrets.ListVersions(ctx, r.orgID, row.ID, "")
		if err != nil {
			tb.Fatal(err)
		}
		versions += fmt.Sprint(vs)
	}
	return snapshot{fmt.Sprint(rows), fmt.Sprint(audit), fmt.Sprint(members), versions}
}

func TestRebuildEqualsLiveReadModelWhileServing(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	last := mixedHistory(t, r, 300)
	r.wait(t, last)
	before := snap(t, r)
	if len(before.audit) < 1000 {
		t.Fatalf("history too small: %d bytes of audit", len(before.audit))
	}

	// Readers keep querying during the rebuild and must never fail.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads, failures atomic.Int64
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				if _, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 10}); err != nil {
					failures.Add(1)
					t.Errorf("read during rebuild: %v", err)
				}
				reads.Add(1)
			}
		})
	}
	lastSeq, err := r.env.Store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebuilt %d events in %s (%.0f events/s) while serving %d reads", rep.Events, rep.Duration, rep.EventsPerS, reads.Load())
	if rep.Events < lastSeq {
		t.Fatalf("rebuild reached %d, log has %d", rep.Events, lastSeq)
	}
	after := snap(t, r)
	if before != after {
		t.Fatalf("rebuilt read models differ from the live ones")
	}
	ok, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store)
	if err != nil || !ok.OK {
		t.Fatalf("verify after rebuild: %+v %v", ok, err)
	}

	// The live projector goes on in the new schema.
	res := r.create(t, "AFTER_REBUILD", map[domain.Environment]string{domain.Staging: "s"})
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.db.Progress.WaitFor(wctx, res.Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := r.db.Secrets.GetSecret(ctx, r.orgID, res.ID); err != nil {
		t.Fatalf("a secret created after the switch: %v", err)
	}
}

// revealedThree creates three secrets named prefix_0 to prefix_2, reveals each 20
// times, waits for the read models, and returns their ids.
func revealedThree(t *testing.T, r *rig, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		ids = append(ids, r.create(t, fmt.Sprintf("%s_%d", prefix, i), map[domain.Environment]string{domain.Production: "p"}).ID)
	}
	var last uint64
	for i := range 60 {
		rev, err := r.h.RevealSecret.Handle(ctx, r.owner, commands.RevealSecret{OrgID: r.orgID, SecretID: ids[i%3], Env: domain.Production})
		if err != nil {
			t.Fatal(err)
		}
		last = rev.Seq
	}
	r.wait(t, last)
	return ids
}

// A rebuild reads each secret's name from the read models (and opens it) once, not
// once per batch that audits the secret: a log of reveals names the same secrets
// batch after batch. 3 secrets revealed 20 times each, rebuilt 10 events to a
// transaction, read at most 3 names; each batch reading the names it audits read 18.
// The rebuilt audit trail names them as the live one does.
func TestRebuildReadsEachSecretNameOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	revealedThree(t, r, "NAMED")
	before := snap(t, r)
	r.db.SetRebuildBatch(10)
	reads := r.db.SecretNameReads()
	if _, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil); err != nil {
		t.Fatal(err)
	}
	if n := r.db.SecretNameReads() - reads; n > 3 {
		t.Fatalf("the rebuild read %d secret names for 3 secrets", n)
	}
	if after := snap(t, r); after != before {
		t.Fatalf("rebuilt read models differ from the live ones:\n%s\n%s", before.audit, after.audit)
	}
}

// A rebuild seals each secret's name once for its audit rows and gives the same
// sealed text to every later row of the secret (same name, key and AAD): sealing it
// anew for each reveal was an AES-GCM seal and its allocations per row. 3 secrets
// revealed 20 times each, rebuilt 10 events to a transaction: one sealed name per
// secret in the audit trail, where each of the 21 rows of a secret had its own. The
// names still read back as the live projector's.
func TestRebuildSealsEachSecretNameOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	revealedThree(t, r, "SEALED")
	before := snap(t, r)
	r.db.SetRebuildBatch(10)
	rep, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, r.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT secret_id::text, count(*), count(DISTINCT secret_name_sealed) FROM `+
		pgx.Identifier{rep.Schema, "audit_log"}.Sanitize()+` WHERE secret_id IS NOT NULL GROUP BY secret_id`)
	if err != nil {
		t.Fatal(err)
	}
	type count struct {
		id             string
		rows, distinct int
	}
	counts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (count, error) {
		var c count
		err := row.Scan(&c.id, &c.rows, &c.distinct)
		return c, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 3 {
		t.Fatalf("audit rows of %d secrets, want 3", len(counts))
	}
	for _, c := range counts {
		if c.rows != 21 || c.distinct != 1 {
			t.Errorf("secret %s: %d audit rows with %d sealed names, want 21 rows with 1", c.id, c.rows, c.distinct)
		}
	}
	if after := snap(t, r); after != before {
		t.Fatalf("rebuilt read models differ from the live ones:\n%s\n%s", before.audit, after.audit)
	}
	if v, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store); err != nil || !v.OK {
		t.Fatalf("audit verification after the rebuild %+v, %v", v, err)
	}
}

// A rebuild copies its audit rows (COPY, typed rows) where the live projector inserts
// them, text that PostgreSQL cannot hold and all: the same rows come out, and the
// chain still verifies against the log.
func TestRebuildCopiesTheAuditRowsTheLiveProjectorInserts(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	actor := domain.Actor{UserID: r.owner.UserID, IP: "192.0.2.1\x00", UserAgent: "curl/8\x00\xfe"}
	secretID := uuid.NewString()
	secret := eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateSecret, ID: secretID}
	appendRaw(t, r, secret, domain.SecretCreated{Name: "NUL\x00NAME", Description: "d\xff", OwnerID: r.owner.UserID,
		Values: map[domain.Environment]domain.ValueVersion{domain.Production: {Version: 1, Mask: "***", Sealed: "s"}}}, actor)
	appendRaw(t, r, eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateAccess, ID: secretID},
		domain.SecretRevealed{SecretID: secretID, Env: domain.Production, Version: 1}, actor)
	appendRaw(t, r, eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateAccess, ID: uuid.NewString()},
		domain.SecretsFetched{Env: domain.Production, Names: []string{"NUL\x00NAME"}}, actor)
	after := r.create(t, "AFTER", map[domain.Environment]string{domain.Production: "v"})
	r.wait(t, after.Seq)
	live, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{})
	if err != nil || len(live) < 4 {
		t.Fatalf("audit %d entries, %v", len(live), err)
	}
	if _, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil); err != nil {
		t.Fatal(err)
	}
	rebuilt, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rebuilt, live) {
		t.Errorf("rebuilt audit trail\n%+v\nwant the live one\n%+v", rebuilt, live)
	}
	if v, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store); err != nil || !v.OK {
		t.Fatalf("audit verification after a rebuild %+v, %v", v, err)
	}
}

// One event that sets and removes the same environment (the log can hold what the
// domain refuses today) has one version row for it, the set's: the live projector's
// INSERT does nothing on the second, and a rebuild, which copies its version rows,
// leaves it out the same way instead of failing on the table's key.
func TestRebuildKeepsAnEventsFirstVersionRowOfAnEnvironment(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	secretID := uuid.NewString()
	secret := eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateSecret, ID: secretID}
	actor := domain.Actor{UserID: r.owner.UserID}
	appendRaw(t, r, secret, domain.SecretCreated{Name: "BOTH", OwnerID: r.owner.UserID,
		Values: map[domain.Environment]domain.ValueVersion{domain.Production: {Version: 1, Mask: "***", Sealed: "s1"}}}, actor)
	last := appendRaw(t, r, secret, domain.SecretUpdated{Set: map[domain.Environment]domain.ValueVersion{domain.Production: {Version: 2, Mask: "**", Sealed: "s2"}},
		Removed: []domain.Environment{domain.Production}}, actor)
	r.wait(t, last.Seq)
	live, err := r.db.Secrets.ListVersions(ctx, r.orgID, secretID, "")
	if err != nil || len(live) != 2 {
		t.Fatalf("live versions %+v, %v: want the create's and the update's set", live, err)
	}
	// A rebuild that cannot apply an event retries it until its context ends.
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := r.db.Rebuild(rctx, r.env.Store, r.env.Store, nil); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := r.db.Secrets.ListVersions(ctx, r.orgID, secretID, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rebuilt, live) {
		t.Fatalf("rebuilt versions\n%+v\nwant the live ones\n%+v", rebuilt, live)
	}
}
