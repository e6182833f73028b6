package projections_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// Updates of one secret grouped into one log message (commands' group commit) are
// projected as if they had been stored one by one: the grid row's version and
// values, a version row per change (two changes of one environment in one message
// included, newest first, each with its own actor), and an audit entry per caller
// with its own actor, id and user agent; the chain verifies against the log.
func TestGroupedUpdatesProjectPerCaller(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	s := r.create(t, "HOT", map[domain.Environment]string{domain.Production: "p1"})
	mu, err := r.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "editor@example.com", Name: "Ed", Password: domain.NewPlaintext("correct horse battery")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.h.AddMember.Handle(ctx, r.owner, commands.AddMember{OrgID: r.orgID, Email: "editor@example.com", Role: domain.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	editor := commands.Meta{UserID: mu.ID}

	var calls atomic.Int32
	publishing, release := make(chan struct{}), make(chan struct{})
	r.env.Store.ObserveAppends(func(time.Duration, error) {
		if calls.Add(1) == 1 {
			close(publishing)
			<-release
		}
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(func() { free(); r.env.Store.ObserveAppends(nil) })

	str := func(v string) *domain.Plaintext { p := domain.NewPlaintext(v); return &p }
	type write struct {
		m   commands.Meta
		env domain.Environment
		v   *domain.Plaintext // nil removes
	}
	writes := []write{
		{r.owner, domain.Production, str("p2")}, // held in its publish
		{editor, domain.Production, str("p3")},
		{r.owner, domain.Production, str("p4")},
		{editor, domain.Production, nil},
		{r.owner, domain.Production, str("p5")},
		{editor, domain.Staging, str("s1")},
	}
	seqs, errs := make([]uint64, len(writes)), make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		before := r.h.UpdateSecret.QueuedWriters()
		wg.Go(func() {
			m := w.m
			m.Actor.UserAgent = fmt.Sprint("client-", i)
			res, err := r.h.UpdateSecret.Handle(ctx, m, commands.UpdateSecret{
				OrgID: r.orgID, SecretID: s.ID, Values: map[domain.Environment]*domain.Plaintext{w.env: w.v},
			})
			seqs[i], errs[i] = res.Seq, err
		})
		if i == 0 {
			<-publishing
			continue
		}
		deadline := time.Now().Add(30 * time.Second)
		for r.h.UpdateSecret.QueuedWriters() <= before {
			if time.Now().After(deadline) {
				t.Fatalf("writer %d did not queue", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	free()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	group := seqs[1]
	for i := 2; i < len(seqs); i++ {
		if seqs[i] != group || group == seqs[0] {
			t.Fatalf("writers stored at %v, want the five queued ones in one message", seqs)
		}
	}
	r.wait(t, group)

	row, err := r.db.Secrets.GetSecret(ctx, r.orgID, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	prod, staging := row.Environments[domain.Production], row.Environments[domain.Staging]
	if row.Version != 7 || !prod.Set || prod.Version != 5 || !staging.Set || staging.Version != 1 {
		t.Fatalf("grid row: version %d, production %+v, staging %+v; want 7, production v5, staging v1", row.Version, prod, staging)
	}

	versions, err := r.db.Secrets.ListVersions(ctx, r.orgID, s.ID, domain.Production)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		version int
		action  string
		actor   string
	}
	var got []step
	for _, v := range versions {
		got = append(got, step{v.Version, v.Action, v.ActorID})
	}
	want := []step{
		{5, "updated", r.owner.UserID}, {4, "deleted", editor.UserID}, {4, "updated", r.owner.UserID},
		{3, "updated", editor.UserID}, {2, "updated", r.owner.UserID}, {1, "created", r.owner.UserID},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("production's history, newest first:\n got %v\nwant %v", got, want)
	}

	entries, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Limit: projections.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	callers, ids := map[int]bool{}, map[string]bool{}
	for _, e := range entries {
		if e.Seq != group {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(e.UserAgent, "client-%d", &n); err != nil || n < 1 || n >= len(writes) || callers[n] {
			t.Fatalf("entry %+v: not one of the group's callers, or one of them twice", e)
		}
		if e.ActorID != writes[n].m.UserID || e.SecretID != s.ID {
			t.Fatalf("entry %+v: want actor %s", e, writes[n].m.UserID)
		}
		callers[n], ids[e.ID()] = true, true
	}
	if len(callers) != 5 || len(ids) != 5 {
		t.Fatalf("the group's audit entries: %d callers, %d distinct ids; want 5 each", len(callers), len(ids))
	}
	v, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK {
		t.Fatalf("verify = %+v", v)
	}
}
