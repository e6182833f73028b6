package commands_test

import (
	"context"
	"testing"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// Names reserved before reservation keys were keyed sit under a bare SHA-256 of
// organization and name. Until they move, such a reservation still holds its name (a
// create of it is refused, not a duplicate); MoveLegacyNames moves a live secret's to
// its keyed key and forgets a deleted one's, leaving no legacy key behind, and the
// names stay exactly as taken as before.
func TestLegacyNameReservationsHoldTheirNamesAndMove(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	h, names, owner, orgID := f.h, f.names, f.owner, f.orgID
	create := func(name string) (commands.SecretResult, error) {
		return h.CreateSecret.Handle(ctx, owner, commands.CreateSecret{OrgID: orgID, Name: name,
			Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("v")}})
	}
	// legacyOf turns a secret's reservation into what an earlier version wrote.
	legacyOf := func(id, name string) {
		t.Helper()
		key, err := names.Key(ctx, orgID, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := names.Release(ctx, key, id); err != nil {
			t.Fatal(err)
		}
		if _, err := names.Reserve(ctx, reservation.LegacyKey(orgID, name), id); err != nil {
			t.Fatal(err)
		}
	}
	live, err := create("LIVE_KEY")
	if err != nil {
		t.Fatal(err)
	}
	legacyOf(live.ID, "LIVE_KEY")
	gone, err := create("GONE_KEY")
	if err != nil {
		t.Fatal(err)
	}
	legacyOf(gone.ID, "GONE_KEY")
	if _, err := h.DeleteSecret.Handle(ctx, owner, commands.DeleteSecret{OrgID: orgID, SecretID: gone.ID}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := names.Holder(ctx, reservation.LegacyKey(orgID, "GONE_KEY")); err != nil || ok {
		t.Fatalf("deleting the secret left its legacy reservation (%v)", err)
	}
	legacyOf(gone.ID, "GONE_KEY") // as if the delete's release had failed

	if _, err := create("LIVE_KEY"); !domain.IsCode(err, domain.CodeSecretNameTaken) {
		t.Fatalf("create of a name a live secret holds under its legacy key: %v, want secret_name_taken", err)
	}

	moved, err := h.CreateSecret.MoveLegacyNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if moved != (commands.LegacyNames{Moved: 1, Forgotten: 1}) {
		t.Fatalf("moved %+v, want 1 moved and 1 forgotten", moved)
	}
	if left, err := names.Legacy(ctx); err != nil || len(left) != 0 {
		t.Fatalf("legacy reservations left: %+v (%v)", left, err)
	}
	key, err := names.Key(ctx, orgID, "LIVE_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if cur, ok, err := names.Holder(ctx, key); err != nil || !ok || cur.Holder != live.ID {
		t.Fatalf("keyed reservation of LIVE_KEY: %+v %v (%v), want %s", cur, ok, err, live.ID)
	}
	if _, err := create("LIVE_KEY"); !domain.IsCode(err, domain.CodeSecretNameTaken) {
		t.Fatalf("create of a moved name: %v, want secret_name_taken", err)
	}
	if _, err := create("GONE_KEY"); err != nil {
		t.Fatalf("create of a deleted secret's name: %v", err)
	}
	again, err := h.CreateSecret.MoveLegacyNames(ctx)
	if err != nil || again != (commands.LegacyNames{}) {
		t.Fatalf("a second run moved %+v (%v), want nothing", again, err)
	}
}
