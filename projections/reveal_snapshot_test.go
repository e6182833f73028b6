package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// TestRevealDecidesOnTheReadModelOnlyWhenTheLogConfirmsIt: a replica whose aggregate
// cache does not hold a secret reveals it from the read models' row, loading none of
// the secret's events however long its history, but only while the log holds no event
// of the secret after the checkpoint the row reflects. A change or a deletion recorded
// in the log and not yet projected is revealed (or refused) as the log says.
func TestRevealDecidesOnTheReadModelOnlyWhenTheLogConfirmsIt(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	stopProjector := r.startProjector(t, r.db)
	ctx := context.Background()
	hot := r.create(t, "LONG_HISTORY", map[domain.Environment]string{domain.Production: "v1"})
	for i := 2; i <= 40; i++ {
		v := domain.NewPlaintext(fmt.Sprintf("v%d", i))
		if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: hot.ID,
			Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v}}); err != nil {
			t.Fatal(err)
		}
	}
	other := r.create(t, "OTHER", map[domain.Environment]string{domain.Production: "o1"})
	doomed := r.create(t, "DOOMED", map[domain.Environment]string{domain.Production: "d1"})
	r.wait(t, doomed.Seq)

	// Another replica: its own aggregate cache, empty.
	names, err := reservation.Open(ctx, r.env.Store)
	if err != nil {
		t.Fatal(err)
	}
	replica := commands.New(r.env.Store, names, time.Now)
	reveal := replica.RevealSecret.WithSnapshots(r.db.Secrets)
	open := func(id string, env domain.Environment) (commands.Revealed, error) {
		return reveal.Handle(ctx, r.owner, commands.RevealSecret{OrgID: r.orgID, SecretID: id, Env: env})
	}
	// The organization's history is read once, by the first reveal.
	if _, err := open(other.ID, domain.Production); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		before := r.env.Store.EventsLoaded()
		rev, err := open(hot.ID, domain.Production)
		if err != nil {
			t.Fatal(err)
		}
		if rev.Value.Reveal() != "v40" || rev.Version != 40 {
			t.Fatalf("revealed %q version %d, want v40 version 40", rev.Value.Reveal(), rev.Version)
		}
		if n := r.env.Store.EventsLoaded() - before; n != 0 {
			t.Fatalf("a reveal from the read model loaded %d events of the log, want 0", n)
		}
	}
	if _, err := open(hot.ID, domain.Staging); !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("reveal of an environment without a value: %v, want not_found", err)
	}

	// The log moves on, the read models do not.
	stopProjector()
	v41 := domain.NewPlaintext("v41")
	if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: hot.ID,
		Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v41}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: doomed.ID}); err != nil {
		t.Fatal(err)
	}
	rev, err := open(hot.ID, domain.Production)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Value.Reveal() != "v41" || rev.Version != 41 {
		t.Fatalf("after an unprojected update: revealed %q version %d, want v41 version 41", rev.Value.Reveal(), rev.Version)
	}
	if _, err := open(doomed.ID, domain.Production); !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("reveal of a secret deleted in the log, not yet in the read models: %v, want not_found", err)
	}
	// A secret the read models never held is the log's to answer.
	if _, err := open("7e0c5d52-9a8e-4a57-9a39-2f3c1a0e5b11", domain.Production); !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("reveal of no secret: %v, want not_found", err)
	}
}
