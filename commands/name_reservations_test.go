package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/nats-io/nats.go/jetstream"
)

// Names reserved before reservation keys were keyed sit in the legacy bucket under a
// bare SHA-256 of organization and name. Until they move, such a reservation still
// holds its name (a create of it is refused, not a duplicate), while one whose secret
// is deleted holds nothing; MoveLegacyNames moves the live ones to keyed keys and
// deletes the legacy bucket, and the names stay exactly as taken as before.
func TestLegacyNameReservationsHoldTheirNamesAndMove(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	create := func(h *commands.Handlers, name string) (commands.SecretResult, error) {
		return h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: name,
			Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("v")}})
	}
	live, err := create(f.h, "LIVE_KEY")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := create(f.h, "GONE_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.DeleteSecret.Handle(ctx, f.owner, commands.DeleteSecret{OrgID: f.orgID, SecretID: gone.ID}); err != nil {
		t.Fatal(err)
	}
	// What an earlier version left: both names in the legacy bucket (the deleted
	// secret's release failed), and nothing under keyed keys.
	old, err := eventstore.CreateBucket(ctx, f.store.JetStream(), jetstream.KeyValueConfig{
		Bucket: reservation.LegacyBucket, History: 1, Storage: jetstream.FileStorage,
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]string{"LIVE_KEY": live.ID, "GONE_KEY": gone.ID} {
		if _, err := old.Create(ctx, reservation.LegacyKey(f.orgID, name), []byte(id)); err != nil {
			t.Fatal(err)
		}
		key, err := f.names.Key(ctx, f.orgID, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.names.Release(ctx, key, id); err != nil {
			t.Fatal(err)
		}
	}
	names, err := reservation.Open(ctx, f.store)
	if err != nil {
		t.Fatal(err)
	}
	h := commands.New(f.store, names, time.Now)

	if _, err := create(h, "LIVE_KEY"); !domain.IsCode(err, domain.CodeSecretNameTaken) {
		t.Fatalf("create of a name a live secret holds in the legacy bucket: %v, want secret_name_taken", err)
	}
	if _, err := create(h, "GONE_KEY"); err != nil {
		t.Fatalf("create of a name a deleted secret holds in the legacy bucket: %v", err)
	}

	moved, err := h.CreateSecret.MoveLegacyNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if moved != (commands.LegacyNames{Moved: 1, Forgotten: 1, Dropped: true}) {
		t.Fatalf("moved %+v, want 1 moved, 1 forgotten, the bucket dropped", moved)
	}
	if _, err := f.store.JetStream().KeyValue(ctx, reservation.LegacyBucket); err == nil {
		t.Fatal("the legacy bucket is still there")
	}
	key, err := names.Key(ctx, f.orgID, "LIVE_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if cur, ok, err := names.Holder(ctx, key); err != nil || !ok || cur.Holder != live.ID {
		t.Fatalf("keyed reservation of LIVE_KEY: %+v %v (%v), want %s", cur, ok, err, live.ID)
	}
	if _, err := create(h, "LIVE_KEY"); !domain.IsCode(err, domain.CodeSecretNameTaken) {
		t.Fatalf("create of a moved name: %v, want secret_name_taken", err)
	}
	again, err := h.CreateSecret.MoveLegacyNames(ctx)
	if err != nil || again != (commands.LegacyNames{}) {
		t.Fatalf("a second run moved %+v (%v), want nothing", again, err)
	}
}
