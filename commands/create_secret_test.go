package commands_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/nats-io/nats.go"
)

// reservationMessages counts the messages the name reservations' stream ever stored.
func reservationMessages(t *testing.T, f fixture) uint64 {
	t.Helper()
	st, err := f.store.JetStream().Stream(context.Background(), "KV_"+reservation.ReservationsBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// A create writes one message, its event: the secret's id derives from the name, so
// the log refuses a second creator of the name, and no reservation is written (and
// synced) before. A name deleted and created again is a new secret each time.
func TestCreateSecretWritesNoReservation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	before := reservationMessages(t, f)
	create := func(name string) (commands.SecretResult, error) {
		return f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: name,
			Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("v-" + name)}})
	}
	ids := map[string]bool{}
	for round := range 3 {
		s, err := create("STRIPE_KEY")
		if err != nil {
			t.Fatalf("create %d: %v", round, err)
		}
		if ids[s.ID] {
			t.Fatalf("create %d got the id %s of an earlier secret of the name", round, s.ID)
		}
		ids[s.ID] = true
		if _, err := create("stripe_key"); !domain.IsCode(err, domain.CodeSecretNameTaken) {
			t.Fatalf("a second create of a live name: %v, want secret_name_taken", err)
		}
		got, err := f.h.RevealSecret.Handle(ctx, f.owner, commands.RevealSecret{OrgID: f.orgID, SecretID: s.ID, Env: domain.Production})
		if err != nil || got.Value.Reveal() != "v-STRIPE_KEY" {
			t.Fatalf("reveal of generation %d: %v, %v", round, got.Value.Reveal(), err)
		}
		if _, err := f.h.DeleteSecret.Handle(ctx, f.owner, commands.DeleteSecret{OrgID: f.orgID, SecretID: s.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if after := reservationMessages(t, f); after != before {
		t.Fatalf("creates wrote %d reservation messages, want none", after-before)
	}
}

// A server that never ran an earlier version has no reservation, and its creates and
// deletes ask the bucket for none (each asked once a create: a request to its stream,
// some 2 % of a create's CPU at 100,000 secrets). Once the bucket holds one, they ask.
func TestCreateSecretAsksAQuietBucketNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	nc := f.store.JetStream().Conn()
	var asked atomic.Int64
	for _, subject := range []string{"$JS.API.DIRECT.GET.KV_" + reservation.ReservationsBucket + ".>", "$JS.API.STREAM.MSG.GET.KV_" + reservation.ReservationsBucket} {
		sub, err := nc.Subscribe(subject, func(*nats.Msg) { asked.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// askedNow is how many requests the bucket has had, once every request sent
	// before has reached the counting subscriptions.
	askedNow := func() int64 {
		t.Helper()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		return asked.Load()
	}
	create := func(name string) commands.SecretResult {
		t.Helper()
		s, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: name,
			Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("v")}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := create("QUIET_KEY")
	if _, err := f.h.DeleteSecret.Handle(ctx, f.owner, commands.DeleteSecret{OrgID: f.orgID, SecretID: s.ID}); err != nil {
		t.Fatal(err)
	}
	create("QUIET_KEY")
	if n := askedNow(); n != 0 {
		t.Fatalf("two creates and a delete asked the empty reservations bucket %d times, want none", n)
	}
	key, err := f.names.Key(ctx, f.orgID, "SOME_OLD_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.names.Reserve(ctx, key, uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	before := askedNow()
	create("LOUD_KEY")
	for deadline := time.Now().Add(5 * time.Second); askedNow() == before; {
		if time.Now().After(deadline) {
			t.Fatal("a create did not ask a bucket that holds a reservation")
		}
	}
}

// Secrets created by earlier versions took random ids and reserved their names in
// the reservations bucket: such a reservation still holds its name while its secret
// lives, and nothing once the secret is deleted.
func TestCreateSecretHonoursReservationsOfEarlierVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	old := uuid.NewString()
	if _, err := f.store.Append(ctx, eventstore.Pending{
		Aggregate: eventstore.Aggregate{OrgID: f.orgID, Type: domain.AggregateSecret, ID: old}, Position: 1,
		Events: []domain.Event{domain.SecretCreated{Name: "OLD_KEY", OwnerID: f.owner.UserID}},
		Actor:  domain.Actor{UserID: f.owner.UserID},
	}); err != nil {
		t.Fatal(err)
	}
	key, err := f.names.Key(ctx, f.orgID, "OLD_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.names.Reserve(ctx, key, old); err != nil {
		t.Fatal(err)
	}
	create := func() (commands.SecretResult, error) {
		return f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: "old_key"})
	}
	if _, err := create(); !domain.IsCode(err, domain.CodeSecretNameTaken) {
		t.Fatalf("a name an earlier version reserved for a live secret: %v, want secret_name_taken", err)
	}
	if _, err := f.h.DeleteSecret.Handle(ctx, f.owner, commands.DeleteSecret{OrgID: f.orgID, SecretID: old}); err != nil {
		t.Fatal(err)
	}
	s, err := create()
	if err != nil {
		t.Fatalf("the name once its secret is deleted: %v", err)
	}
	if s.ID == old {
		t.Fatal("the new secret took the deleted one's id")
	}
}

// With an Idempotency-Key the log answers a retry whose binding in the idempotency
// store was lost (a crash): the same request replays its first result, and the key
// sent with another name is refused, not a second secret.
func TestCreateSecretIdempotencyFromTheLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	meta := func(request string) commands.Meta {
		m := f.owner
		m.IdempotencyKey, m.RequestHash = "key-1", request
		return m
	}
	first, err := f.h.CreateSecret.Handle(ctx, meta("create A"), commands.CreateSecret{OrgID: f.orgID, Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.h.CreateSecret.Handle(ctx, meta("create A"), commands.CreateSecret{OrgID: f.orgID, Name: "A"})
	if err != nil || !again.Replayed || again.ID != first.ID || again.Seq != first.Seq {
		t.Fatalf("the retry: %+v, %v; want the first result (%s at %d) replayed", again.Result, err, first.ID, first.Seq)
	}
	if _, err := f.h.CreateSecret.Handle(ctx, meta("create B"), commands.CreateSecret{OrgID: f.orgID, Name: "B"}); !domain.IsCode(err, domain.CodeIdempotencyKeyReused) {
		t.Fatalf("the key with another name: %v, want idempotency_key_reused", err)
	}
	// Nothing was created under B.
	if _, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: "B"}); err != nil {
		t.Fatalf("B after the refused key: %v", err)
	}
}

// A name deleted and created again many times costs its next create one id, not one
// per earlier generation: the handler remembers the name's newest generation.
func TestCreateOfANameDeletedManyTimesTriesFewIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var conflicts atomic.Int64
	f.store.ObserveAppends(func(_ time.Duration, err error) {
		if errors.Is(err, eventstore.ErrVersionConflict) {
			conflicts.Add(1)
		}
	})
	const generations = 6
	for g := range generations {
		before := conflicts.Load()
		s, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: "ROTATED"})
		if err != nil {
			t.Fatalf("create %d: %v", g, err)
		}
		if n := conflicts.Load() - before; n > 1 {
			t.Fatalf("create %d (after %d deletions) tried %d taken ids, want at most 1", g, g, n)
		}
		if _, err := f.h.DeleteSecret.Handle(ctx, f.owner, commands.DeleteSecret{OrgID: f.orgID, SecretID: s.ID}); err != nil {
			t.Fatal(err)
		}
	}
	// Another handler (a restarted server, another replica) has no hint: it tries the
	// generations in turn and still finds the free one.
	fresh := commands.New(f.store, f.names, time.Now)
	before := conflicts.Load()
	if _, err := fresh.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: "rotated"}); err != nil {
		t.Fatalf("create without a hint: %v", err)
	}
	if n := conflicts.Load() - before; n != generations {
		t.Fatalf("without a hint the create tried %d taken ids, want %d", n, generations)
	}
}
