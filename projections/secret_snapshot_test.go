package projections_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// freshReplica is another replica of the commands over r's log: its own aggregate
// cache, empty, with updates restoring secrets from r's read models.
func freshReplica(t *testing.T, r *rig) (*commands.Handlers, *commands.UpdateSecretHandler) {
	t.Helper()
	names, err := reservation.Open(context.Background(), r.env.Store)
	if err != nil {
		t.Fatal(err)
	}
	replica := commands.New(r.env.Store, names, time.Now)
	return replica, replica.UpdateSecret.WithSnapshots(r.db.Secrets)
}

func setProd(v string) map[domain.Environment]*domain.Plaintext {
	p := domain.NewPlaintext(v)
	return map[domain.Environment]*domain.Plaintext{domain.Production: &p}
}

// updateProd sets the secret's production value to prefix+i for i from..to, one
// update each, and returns the last update's sequence.
func updateProd(t *testing.T, r *rig, id, prefix string, from, to int) uint64 {
	t.Helper()
	var last uint64
	for i := from; i <= to; i++ {
		res, err := r.h.UpdateSecret.Handle(context.Background(), r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: id, Values: setProd(fmt.Sprintf("%s%d", prefix, i))})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Seq
	}
	return last
}

// TestUpdateRestoresAnUncachedSecretFromTheReadModels: an update on a replica whose
// aggregate cache does not hold the secret loads none of the secret's events, however
// long its history (41 events here; before, it replayed all 41), and decides as the
// history would: the next value version, the description kept, the owner's rights.
// A change recorded in the log and not yet projected is not missed: the update then
// reads the log.
func TestUpdateRestoresAnUncachedSecretFromTheReadModels(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	stopProjector := r.startProjector(t, r.db)
	ctx := context.Background()
	hot := r.create(t, "LONG_HISTORY", map[domain.Environment]string{domain.Production: "v1", domain.Staging: "s1"})
	last := updateProd(t, r, hot.ID, "v", 2, 41)
	r.wait(t, last)
	warm := r.create(t, "WARM", map[domain.Environment]string{domain.Production: "w1"})
	r.wait(t, warm.Seq)

	replica, update := freshReplica(t, r)
	// The organization's history and the owner's (named in the answer) are read
	// once, by the first command.
	if _, err := update.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: warm.ID, Values: setProd("w2")}); err != nil {
		t.Fatal(err)
	}
	before := r.env.Store.EventsLoaded()
	res, err := update.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: hot.ID, Values: setProd("v42")})
	if err != nil {
		t.Fatal(err)
	}
	// The restored secret stays in the cache, without its marks: a reveal of it (no
	// Idempotency-Key) reads no history either.
	rev, err := replica.RevealSecret.Handle(ctx, r.owner, commands.RevealSecret{OrgID: r.orgID, SecretID: hot.ID, Env: domain.Production})
	if err != nil || rev.Value.Reveal() != "v42" {
		t.Fatalf("reveal after the restoring update: %q, %v", rev.Value.Reveal(), err)
	}
	if n := r.env.Store.EventsLoaded() - before; n != 0 {
		t.Fatalf("an update of a secret restored from the read models, and a reveal, loaded %d events of the log, want 0", n)
	}
	prod, _ := res.Secret.Value(domain.Production)
	stag, _ := res.Secret.Value(domain.Staging)
	if prod.Version != 42 || stag.Version != 1 || res.Secret.Version() != 42 || res.Secret.Description() != "about LONG_HISTORY" ||
		string(res.Secret.Name()) != "LONG_HISTORY" {
		t.Fatalf("after the update: production v%d, staging v%d, secret version %d, description %q, name %q; want 42, 1, 42, about LONG_HISTORY, LONG_HISTORY",
			prod.Version, stag.Version, res.Secret.Version(), res.Secret.Description(), res.Secret.Name())
	}
	// An unchanged value is no change, as on the replayed secret.
	same, err := update.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: hot.ID, Values: setProd("v42")})
	if err != nil || same.Seq != 0 {
		t.Fatalf("the same value again: seq %d, %v; want no new event", same.Seq, err)
	}

	// The log moves on, the read models do not: another secret, not cached on the
	// replica, is changed on the first replica; the replica's update builds on it.
	other := r.create(t, "OTHER", map[domain.Environment]string{domain.Production: "o1"})
	r.wait(t, other.Seq)
	stopProjector()
	if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: other.ID, Values: setProd("o2")}); err != nil {
		t.Fatal(err)
	}
	res, err = update.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: other.ID, Values: setProd("o3")})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := res.Secret.Value(domain.Production); v.Version != 3 || res.Secret.Version() != 3 {
		t.Fatalf("an update after an unprojected one: production v%d, secret version %d; want 3, 3", v.Version, res.Secret.Version())
	}
}

// TestRestoredSecretEqualsTheReplayedOne: for secrets with every kind of history
// (values set, replaced, removed and set again, a description changed, a value deleted,
// a rollback, writers grouped into one message), the read models' copy restored
// (domain.RestoreSecret) equals the secret replayed from the log in everything a
// command decides on or answers, and its last sequence and version are the log's.
func TestRestoredSecretEqualsTheReplayedOne(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	upd := func(id string, c commands.UpdateSecret) {
		t.Helper()
		c.OrgID, c.SecretID = r.orgID, id
		if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, c); err != nil {
			t.Fatal(err)
		}
	}
	plain := func(v string) *domain.Plaintext { p := domain.NewPlaintext(v); return &p }
	desc := func(d string) *string { return &d }
	var ids []string
	bare := r.create(t, "BARE", nil)
	ids = append(ids, bare.ID)

	a := r.create(t, "A", map[domain.Environment]string{domain.Production: "p1", domain.Staging: "s1"})
	upd(a.ID, commands.UpdateSecret{Description: desc("changed")})
	upd(a.ID, commands.UpdateSecret{Values: map[domain.Environment]*domain.Plaintext{domain.Development: plain("d1"), domain.Staging: nil}})
	upd(a.ID, commands.UpdateSecret{Values: map[domain.Environment]*domain.Plaintext{domain.Staging: plain("s2")}})
	prod := domain.Production
	if _, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: a.ID, Env: &prod}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, a.ID)

	b := r.create(t, "B", map[domain.Environment]string{domain.Production: "b1"})
	upd(b.ID, commands.UpdateSecret{Values: setProd("b2")})
	if _, err := r.h.RollbackSecret.Handle(ctx, r.owner, commands.RollbackSecret{OrgID: r.orgID, SecretID: b.ID, Env: domain.Production, Version: 1}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, b.ID)

	// Concurrent writers of one secret share messages (several events, one sequence).
	c := r.create(t, "C", map[domain.Environment]string{domain.Production: "c0"})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			v := fmt.Sprintf("c%d", i+1)
			if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: c.ID,
				Values: map[domain.Environment]*domain.Plaintext{domain.Environment([]string{"production", "staging"}[i%2]): plain(v)}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ids = append(ids, c.ID)

	compare := func(when string) {
		t.Helper()
		for _, id := range ids {
			compareSnapshot(t, r, id, when)
		}
	}
	compare("live")
	// A rebuild writes the rows its own way (folded per batch, copied): the copy it
	// leaves must restore the same secrets, with batches that cut the histories too.
	for _, batch := range []int{0, 3} {
		if batch > 0 {
			r.db.SetRebuildBatch(batch)
		}
		if _, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil); err != nil {
			t.Fatal(err)
		}
		compare(fmt.Sprintf("rebuilt (batch %d; 0: the default)", batch))
	}
}

// compareSnapshot holds the read models' copy of secret id, restored, to the secret
// replayed from the log.
func compareSnapshot(t *testing.T, r *rig, id, when string) {
	t.Helper()
	ctx := context.Background()
	agg := eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateSecret, ID: id}
	l, err := r.env.Store.Load(ctx, agg)
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, l.LastSeq)
	want := domain.NewSecret(r.orgID, id)
	for _, rec := range l.Events {
		want.Apply(rec)
	}
	st, lastSeq, checkpoint, ok, err := r.db.Secrets.SecretSnapshot(ctx, r.orgID, id)
	if err != nil || !ok {
		t.Fatalf("%s, %s: snapshot ok=%v, %v", when, want.Name(), ok, err)
	}
	if lastSeq != l.LastSeq || checkpoint < lastSeq || st.Version != l.EventCount() {
		t.Fatalf("%s, %s: last seq %d, checkpoint %d, version %d; the log's last seq %d, %d events",
			when, want.Name(), lastSeq, checkpoint, st.Version, l.LastSeq, l.EventCount())
	}
	got := domain.RestoreSecret(r.orgID, id, st)
	if !got.Partial() || want.Partial() {
		t.Fatalf("%s: Partial() = %v restored, %v replayed", want.Name(), got.Partial(), want.Partial())
	}
	sameSecret(t, when, got, want)
}

func sameSecret(t *testing.T, when string, got, want *domain.Secret) {
	t.Helper()
	us := func(at time.Time) time.Time { return at.Truncate(time.Microsecond) }
	if got.Name() != want.Name() || got.Description() != want.Description() || got.OwnerID() != want.OwnerID() ||
		got.Version() != want.Version() || got.Exists() != want.Exists() ||
		!us(got.CreatedAt()).Equal(us(want.CreatedAt())) || !us(got.UpdatedAt()).Equal(us(want.UpdatedAt())) {
		t.Fatalf("%s: restored %q %q owner %s v%d exists %v created %s updated %s;\nreplayed %q %q owner %s v%d exists %v created %s updated %s", when,
			got.Name(), got.Description(), got.OwnerID(), got.Version(), got.Exists(), got.CreatedAt(), got.UpdatedAt(),
			want.Name(), want.Description(), want.OwnerID(), want.Version(), want.Exists(), want.CreatedAt(), want.UpdatedAt())
	}
	for _, env := range domain.Environments() {
		gv, gset := got.Value(env)
		wv, wset := want.Value(env)
		if gv != wv || gset != wset || got.NextValueVersion(env) != want.NextValueVersion(env) ||
			!us(got.ValueUpdatedAt(env)).Equal(us(want.ValueUpdatedAt(env))) {
			t.Fatalf("%s, %s %s: restored %+v set %v next %d updated %s; replayed %+v set %v next %d updated %s", when, want.Name(), env,
				gv, gset, got.NextValueVersion(env), got.ValueUpdatedAt(env), wv, wset, want.NextValueVersion(env), want.ValueUpdatedAt(env))
		}
	}
}

// TestRestoredSecretRollsBackAndReplaysKeys: a secret restored from the read models
// has no value history and no idempotency marks at hand, and neither is lost: a
// rollback to an earlier version reads the history from the log, and a retried
// Idempotency-Key of a request the first replica answered gets that first answer
// again instead of a second change.
func TestRestoredSecretRollsBackAndReplaysKeys(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	s := r.create(t, "ROLLED", map[domain.Environment]string{domain.Production: "r1"})
	keyed := r.owner
	keyed.IdempotencyKey = "update-rolled-once"
	first, err := r.h.UpdateSecret.Handle(ctx, keyed, commands.UpdateSecret{OrgID: r.orgID, SecretID: s.ID, Values: setProd("r2")})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, first.Seq)

	replica, update := freshReplica(t, r)
	third, err := update.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: s.ID, Values: setProd("r3")})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := third.Secret.Value(domain.Production); v.Version != 3 || !third.Secret.Partial() {
		t.Fatalf("the restoring update: production v%d, partial %v; want v3 from a restored secret", v.Version, third.Secret.Partial())
	}
	again, err := update.Handle(ctx, keyed, commands.UpdateSecret{OrgID: r.orgID, SecretID: s.ID, Values: setProd("r2")})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Seq != first.Seq {
		t.Fatalf("a retried key on the replica: replayed %v seq %d; want the first answer, seq %d", again.Replayed, again.Seq, first.Seq)
	}
	back, err := replica.RollbackSecret.Handle(ctx, r.owner, commands.RollbackSecret{OrgID: r.orgID, SecretID: s.ID, Env: domain.Production, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Secret.Value(domain.Production); v.Version != 4 {
		t.Fatalf("rollback to v1: production v%d, want v4", v.Version)
	}
	rev, err := replica.RevealSecret.Handle(ctx, r.owner, commands.RevealSecret{OrgID: r.orgID, SecretID: s.ID, Env: domain.Production})
	if err != nil {
		t.Fatal(err)
	}
	if rev.Value.Reveal() != "r1" || rev.Version != 4 {
		t.Fatalf("after the rollback: revealed %q v%d, want r1 v4", rev.Value.Reveal(), rev.Version)
	}
}

// TestDeleteRestoresAnUncachedSecretFromTheReadModels: a deletion (of one value, then
// of the whole secret) on a replica whose aggregate cache does not hold the secret
// loads none of the secret's 21 events, and decides as the history would: the value
// removed is the current one, and the secret is gone for every later command.
func TestDeleteRestoresAnUncachedSecretFromTheReadModels(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	s := r.create(t, "DOOMED", map[domain.Environment]string{domain.Production: "p1", domain.Staging: "s1"})
	last := updateProd(t, r, s.ID, "p", 2, 20)
	warm := r.create(t, "WARM", map[domain.Environment]string{domain.Production: "w1"})
	r.wait(t, max(last, warm.Seq))

	replica, update := freshReplica(t, r)
	del := replica.DeleteSecret.WithSnapshots(r.db.Secrets)
	// The organization's history and the owner's (named in the answer) are read
	// once, by the first command.
	if _, err := update.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: warm.ID, Values: setProd("w2")}); err != nil {
		t.Fatal(err)
	}
	staging := domain.Staging
	before := r.env.Store.EventsLoaded()
	if _, err := del.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: s.ID, Env: &staging}); err != nil {
		t.Fatal(err)
	}
	gone, err := del.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	if n := r.env.Store.EventsLoaded() - before; n != 0 {
		t.Fatalf("two deletions of a secret restored from the read models loaded %d events of the log, want 0", n)
	}
	l, err := r.env.Store.Load(ctx, eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateSecret, ID: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	n := len(l.Events)
	if n != 22 || l.LastSeq != gone.Seq {
		t.Fatalf("the log holds %d events of the secret, last at %d; want 22, the last the deletion's %d", n, l.LastSeq, gone.Seq)
	}
	if e, ok := l.Events[n-2].Event.(domain.SecretValueDeleted); !ok || e.Env != domain.Staging || e.Version != 1 {
		t.Fatalf("the value deletion recorded %#v, want staging v1", l.Events[n-2].Event)
	}
	if e, ok := l.Events[n-1].Event.(domain.SecretDeleted); !ok || e.Name != "DOOMED" {
		t.Fatalf("the deletion recorded %#v, want the secret's name", l.Events[n-1].Event)
	}
	if _, err := replica.RevealSecret.Handle(ctx, r.owner, commands.RevealSecret{OrgID: r.orgID, SecretID: s.ID, Env: domain.Production}); !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("reveal after the deletion: %v, want not_found", err)
	}
}

// Secret snapshot reads of one organization asked while a read is under way wait for
// the next one, and one statement answers them all, each with its own secret's state
// (its name and description opened, every environment's value, its last event): 42
// reads that queued run as 1 statement and give what each read alone gives. A secret
// the read models do not hold is not found, and a read alone still runs at once.
func TestSecretSnapshotReadsAskedTogetherShareAStatement(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	var ids []string
	var last uint64
	for i := range 40 {
		res := r.create(t, fmt.Sprintf("SNAP_%02d", i), map[domain.Environment]string{domain.Production: fmt.Sprintf("p%d", i), domain.Staging: "s"})
		ids, last = append(ids, res.ID), res.Seq
	}
	bare := r.create(t, "NO_VALUES", nil)
	r.wait(t, max(last, bare.Seq))

	type answer struct {
		st                  domain.SecretState
		lastSeq, checkpoint uint64
		found               bool
		err                 error
	}
	asked := append(append([]string{}, ids...), uuid.NewString(), bare.ID)
	before := r.db.Secrets.SecretSnapshotReads()
	answers := askTogether(t, asked, func() func() { return r.db.Secrets.HoldSecretSnapshotReads(r.orgID) },
		func() int { return r.db.Secrets.QueuedSecretSnapshotReads(r.orgID) },
		func(id string) (a answer) {
			a.st, a.lastSeq, a.checkpoint, a.found, a.err = r.db.Secrets.SecretSnapshot(ctx, r.orgID, id)
			return a
		})
	if n := r.db.Secrets.SecretSnapshotReads() - before; n != 1 {
		t.Fatalf("%d reads asked together ran %d statements, want 1", len(asked), n)
	}
	for i, a := range answers[:len(ids)] {
		prod, stag := a.st.Values[domain.Production], a.st.Values[domain.Staging]
		if a.err != nil || !a.found || string(a.st.Name) != fmt.Sprintf("SNAP_%02d", i) || a.st.OwnerID != r.owner.UserID ||
			a.st.Version != 1 || len(a.st.Values) != 2 || !prod.Set || prod.Value.Version != 1 || prod.Value.Sealed == "" ||
			!stag.Set || stag.Value.Sealed == "" || a.lastSeq == 0 || a.lastSeq > a.checkpoint || a.checkpoint < last {
			t.Fatalf("secret %d: %+v", i, a)
		}
		if i > 0 && prod.Value.Sealed == answers[i-1].st.Values[domain.Production].Value.Sealed {
			t.Fatalf("secrets %d and %d got the same sealed value", i-1, i)
		}
	}
	if a := answers[len(ids)]; a.err != nil || a.found {
		t.Fatalf("an unknown secret: %+v", a)
	}
	if a := answers[len(ids)+1]; a.err != nil || !a.found || string(a.st.Name) != "NO_VALUES" || a.lastSeq != bare.Seq {
		t.Fatalf("a secret without values: %+v", a)
	}
	// Alone, a read runs at once, and gives what the shared one gave.
	for _, i := range []int{0, 17, 39} {
		st, lastSeq, _, found, err := r.db.Secrets.SecretSnapshot(ctx, r.orgID, ids[i])
		if err != nil || !found || lastSeq != answers[i].lastSeq || !reflect.DeepEqual(st, answers[i].st) {
			t.Fatalf("secret %d alone: %+v, %v, found %v; shared: %+v", i, st, err, found, answers[i].st)
		}
	}
	if n := r.db.Secrets.SecretSnapshotReads() - before; n != 4 {
		t.Fatalf("%d statements, want 4", n)
	}
}
