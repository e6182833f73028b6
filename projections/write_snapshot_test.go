package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// replayed is a secret as its history in the log leaves it, with the sequence of its
// last event.
func replayed(tb testing.TB, r *rig, id string) (*domain.Secret, uint64) {
	tb.Helper()
	l, err := r.env.Store.Load(context.Background(), eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateSecret, ID: id})
	if err != nil {
		tb.Fatal(err)
	}
	s := domain.NewSecret(r.orgID, id)
	for _, rec := range l.Events {
		s.Apply(rec)
	}
	return s, l.LastSeq
}

// sameSecret fails unless got shows everything a decision or an answer reads of a
// secret as want does.
func sameSecret(tb testing.TB, got, want *domain.Secret) {
	tb.Helper()
	if got.Name() != want.Name() || got.Description() != want.Description() || got.OwnerID() != want.OwnerID() ||
		got.Version() != want.Version() || got.Exists() != want.Exists() ||
		!got.CreatedAt().Equal(want.CreatedAt()) || !got.UpdatedAt().Equal(want.UpdatedAt()) {
		tb.Fatalf("secret %s: got %q %q owner %s version %d exists %v created %s updated %s; want %q %q owner %s version %d exists %v created %s updated %s",
			want.ID(), got.Name(), got.Description(), got.OwnerID(), got.Version(), got.Exists(), got.CreatedAt(), got.UpdatedAt(),
			want.Name(), want.Description(), want.OwnerID(), want.Version(), want.Exists(), want.CreatedAt(), want.UpdatedAt())
	}
	for _, env := range []domain.Environment{domain.Development, domain.Staging, domain.Production} {
		gv, gset := got.Value(env)
		wv, wset := want.Value(env)
		if gv != wv || gset != wset || !got.ValueUpdatedAt(env).Equal(want.ValueUpdatedAt(env)) || got.NextValueVersion(env) != want.NextValueVersion(env) {
			tb.Fatalf("secret %s, %s: got %+v set %v at %s next %d; want %+v set %v at %s next %d", want.ID(), env,
				gv, gset, got.ValueUpdatedAt(env), got.NextValueVersion(env), wv, wset, want.ValueUpdatedAt(env), want.NextValueVersion(env))
		}
	}
}

// TestWriteSnapshotIsTheReplayedSecret: the read models' copy of a secret, restored,
// is what replaying its history gives, for every kind of history (values set, changed,
// removed and set again, rolled back, a description changed, several writers' events in
// one message), with the sequence of its last event.
func TestWriteSnapshotIsTheReplayedSecret(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	update := func(id string, c commands.UpdateSecret) {
		t.Helper()
		c.OrgID, c.SecretID = r.orgID, id
		if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, c); err != nil {
			t.Fatal(err)
		}
	}
	val := func(s string) *domain.Plaintext { p := domain.NewPlaintext(s); return &p }
	plain := r.create(t, "PLAIN", map[domain.Environment]string{domain.Production: "p1"})
	empty := r.create(t, "EMPTY", nil)
	busy := r.create(t, "BUSY", map[domain.Environment]string{domain.Production: "b1", domain.Staging: "s1"})
	for i := 2; i <= 5; i++ {
		update(busy.ID, commands.UpdateSecret{Values: map[domain.Environment]*domain.Plaintext{domain.Production: val(fmt.Sprint("b", i))}})
	}
	desc := "a new description"
	update(busy.ID, commands.UpdateSecret{Description: &desc, Values: map[domain.Environment]*domain.Plaintext{domain.Staging: nil, domain.Development: val("d1")}})
	update(busy.ID, commands.UpdateSecret{Values: map[domain.Environment]*domain.Plaintext{domain.Staging: val("s2")}})
	if _, err := r.h.RollbackSecret.Handle(ctx, r.owner, commands.RollbackSecret{OrgID: r.orgID, SecretID: busy.ID, Env: domain.Production, Version: 2}); err != nil {
		t.Fatal(err)
	}
	removed := r.create(t, "REMOVED", map[domain.Environment]string{domain.Development: "r1"})
	update(removed.ID, commands.UpdateSecret{Values: map[domain.Environment]*domain.Plaintext{domain.Development: nil}})
	// Concurrent writers of one secret share messages (group commit).
	shared := r.create(t, "SHARED", map[domain.Environment]string{domain.Production: "x0"})
	done := make(chan error, 16)
	for i := range 16 {
		go func() {
			_, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: shared.ID,
				Values: map[domain.Environment]*domain.Plaintext{domain.Environment([]string{"production", "staging"}[i%2]): val(fmt.Sprint("x", i+1))}})
			done <- err
		}()
	}
	for range 16 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	last, err := r.env.Store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, last)

	for _, id := range []string{plain.ID, empty.ID, busy.ID, removed.ID, shared.ID} {
		snap, lastSeq, checkpoint, ok, err := r.db.Secrets.WriteSnapshot(ctx, r.orgID, id)
		if err != nil || !ok {
			t.Fatalf("snapshot of %s: %v, %v", id, ok, err)
		}
		want, wantSeq := replayed(t, r, id)
		if lastSeq != wantSeq || checkpoint < lastSeq {
			t.Fatalf("snapshot of %s: last event at %d (checkpoint %d), the log's at %d", id, lastSeq, checkpoint, wantSeq)
		}
		got := domain.RestoreSecret(r.orgID, id, snap)
		sameSecret(t, got, want)
		if !got.Partial() || want.Partial() {
			t.Fatal("a restored secret must say that it lacks its value history, a replayed one must not")
		}
	}
	if _, _, _, ok, err := r.db.Secrets.WriteSnapshot(ctx, r.orgID, "7e0c5d52-9a8e-4a57-9a39-2f3c1a0e5b11"); ok || err != nil {
		t.Fatalf("snapshot of no secret: %v, %v; want none", ok, err)
	}
}

// TestWritesDecideOnTheReadModelOnlyWhenTheLogConfirmsIt: a replica whose aggregate
// cache does not hold a secret decides an update on the read models' copy, loading
// none of the secret's events however long its history, and its event lands where
// replaying the log expects it. A change or a deletion recorded in the log and not yet
// projected is decided on as the log says, and a rollback of a restored secret reads
// the history it needs.
func TestWritesDecideOnTheReadModelOnlyWhenTheLogConfirmsIt(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	stopProjector := r.startProjector(t, r.db)
	ctx := context.Background()
	val := func(s string) *domain.Plaintext { p := domain.NewPlaintext(s); return &p }
	hot := r.create(t, "LONG_HISTORY", map[domain.Environment]string{domain.Production: "v1"})
	for i := 2; i <= 40; i++ {
		if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: hot.ID,
			Values: map[domain.Environment]*domain.Plaintext{domain.Production: val(fmt.Sprint("v", i))}}); err != nil {
			t.Fatal(err)
		}
	}
	other := r.create(t, "OTHER", map[domain.Environment]string{domain.Production: "o1"})
	moved := r.create(t, "MOVED", map[domain.Environment]string{domain.Production: "m1"})
	doomed := r.create(t, "DOOMED", map[domain.Environment]string{domain.Production: "d1"})
	r.wait(t, doomed.Seq)

	// Another replica: its own aggregate cache, empty.
	names, err := reservation.Open(ctx, r.env.Store)
	if err != nil {
		t.Fatal(err)
	}
	replica := commands.New(r.env.Store, names, time.Now)
	update := replica.UpdateSecret.WithSnapshots(r.db.Secrets)
	write := func(id string, c commands.UpdateSecret) (commands.SecretResult, error) {
		c.OrgID, c.SecretID = r.orgID, id
		return update.Handle(ctx, r.owner, c)
	}
	// The organization's history is read once, by the first write.
	if _, err := write(other.ID, commands.UpdateSecret{Values: map[domain.Environment]*domain.Plaintext{domain.Staging: val("o2")}}); err != nil {
		t.Fatal(err)
	}
	before := r.env.Store.EventsLoaded()
	version := 40
	res, err := write(hot.ID, commands.UpdateSecret{ExpectedVersion: &version, Values: map[domain.Environment]*domain.Plaintext{domain.Production: val("v41")}})
	if err != nil {
		t.Fatal(err)
	}
	if n := r.env.Store.EventsLoaded() - before; n != 0 {
		t.Fatalf("a write decided on the read model loaded %d events of the log, want 0", n)
	}
	if v, _ := res.Secret.Value(domain.Production); res.Secret.Version() != 41 || v.Version != 41 {
		t.Fatalf("answered version %d, value version %d; want 41 and 41", res.Secret.Version(), v.Version)
	}
	want, _ := replayed(t, r, hot.ID) // opens every event: the new one's place is where the log expects it
	sameSecret(t, res.Secret, want)
	// An unchanged value is no new version, decided on the restored state too.
	if res, err := write(hot.ID, commands.UpdateSecret{Values: map[domain.Environment]*domain.Plaintext{domain.Production: val("v41")}}); err != nil || res.Secret.Version() != 41 {
		t.Fatalf("an unchanged value: %v, version %d; want no change", err, res.Secret.Version())
	}
	// A rollback reads the history the restored secret lacks.
	rolled, err := replica.RollbackSecret.Handle(ctx, r.owner, commands.RollbackSecret{OrgID: r.orgID, SecretID: hot.ID, Env: domain.Production, Version: 7})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := r.h.RevealSecret.Handle(ctx, r.owner, commands.RevealSecret{OrgID: r.orgID, SecretID: hot.ID, Env: domain.Production})
	if err != nil || rev.Value.Reveal() != "v7" || rev.Version != 42 || rolled.Secret.Version() != 42 {
		t.Fatalf("after the rollback: %v, revealed %q version %d; want v7 version 42", err, rev.Value.Reveal(), rev.Version)
	}

	// The log moves on, the read models do not.
	stopProjector()
	if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: moved.ID,
		Values: map[domain.Environment]*domain.Plaintext{domain.Production: val("m2")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: doomed.ID}); err != nil {
		t.Fatal(err)
	}
	version = 2
	res, err = write(moved.ID, commands.UpdateSecret{ExpectedVersion: &version, Values: map[domain.Environment]*domain.Plaintext{domain.Production: val("m3")}})
	if err != nil {
		t.Fatalf("a write expecting the version the log holds, not the read models: %v", err)
	}
	if res.Secret.Version() != 3 {
		t.Fatalf("after an unprojected update: version %d, want 3", res.Secret.Version())
	}
	if _, err := write(doomed.ID, commands.UpdateSecret{Values: map[domain.Environment]*domain.Plaintext{domain.Production: val("d2")}}); !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("a write to a secret deleted in the log, not yet in the read models: %v, want not_found", err)
	}
}
