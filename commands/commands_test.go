package commands_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

type fixture struct {
	h     *commands.Handlers
	owner commands.Meta
	orgID string
	store *eventstore.Store
	names *reservation.Reservations
}

func newFixture(tb testing.TB) fixture {
	tb.Helper()
	env := eventstoretest.New(tb)
	ctx := context.Background()
	names, err := reservation.Open(ctx, env.Store)
	if err != nil {
		tb.Fatal(err)
	}
	h := commands.New(env.Store, names, time.Now)
	u, err := h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "owner@example.com", Name: "Owner", Password: domain.NewPlaintext("correct horse battery")})
	if err != nil {
		tb.Fatal(err)
	}
	owner := commands.Meta{UserID: u.ID}
	org, err := h.CreateOrganization.Handle(ctx, owner, commands.CreateOrganization{Name: "Acme"})
	if err != nil {
		tb.Fatal(err)
	}
	return fixture{h: h, owner: owner, orgID: org.ID, store: env.Store, names: names}
}

func TestCreateSecretNameUniqueUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{
				OrgID: f.orgID, Name: "stripe_key",
				Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("sk_live_1")},
			})
			results <- err
		})
	}
	wg.Wait()
	close(results)
	ok, taken := 0, 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case domain.IsCode(err, domain.CodeSecretNameTaken):
			taken++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || taken != 19 {
		t.Fatalf("got %d successes and %d name_taken, want 1 and 19", ok, taken)
	}
}

func TestRegisterUserEmailUniqueUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			_, err := f.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{
				Email: "Same@Example.com", Name: fmt.Sprint("user ", i), Password: domain.NewPlaintext("tall-lamp-seven-oaks"),
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else if !domain.IsCode(err, domain.CodeEmailTaken) {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d sign-ups succeeded, want 1", ok)
	}
}

func TestSecretLifecycleVersionsAndNameReuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	pt := domain.NewPlaintext
	created, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{
		OrgID: f.orgID, Name: "db_password",
		Values: map[domain.Environment]domain.Plaintext{domain.Development: pt("dev-pass"), domain.Production: pt("prod-pass")},
	})
	if err != nil {
		t.Fatal(err)
	}
	newProd, same := pt("prod-pass-2"), pt("dev-pass")
	if _, err := f.h.UpdateSecret.Handle(ctx, f.owner, commands.UpdateSecret{
		OrgID: f.orgID, SecretID: created.ID,
		Values: map[domain.Environment]*domain.Plaintext{domain.Production: &newProd, domain.Development: &same},
	}); err != nil {
		t.Fatal(err)
	}
	for env, want := range map[domain.Environment]struct {
		value   string
		version int
	}{domain.Development: {"dev-pass", 1}, domain.Production: {"prod-pass-2", 2}} {
		got, err := f.h.RevealSecret.Handle(ctx, f.owner, commands.RevealSecret{OrgID: f.orgID, SecretID: created.ID, Env: env})
		if err != nil {
			t.Fatal(err)
		}
		if got.Value.Reveal() != want.value || got.Version != want.version {
			t.Errorf("%s: got version %d, want %q at version %d", env, got.Version, want.value, want.version)
		}
	}
	stale := 1
	_, err = f.h.UpdateSecret.Handle(ctx, f.owner, commands.UpdateSecret{OrgID: f.orgID, SecretID: created.ID, Description: new(string), ExpectedVersion: &stale, Values: map[domain.Environment]*domain.Plaintext{domain.Staging: &newProd}})
	if !domain.IsCode(err, domain.CodeVersionConflict) {
		t.Fatalf("stale expected_version: got %v, want version_conflict", err)
	}
	if _, err := f.h.DeleteSecret.Handle(ctx, f.owner, commands.DeleteSecret{OrgID: f.orgID, SecretID: created.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.RevealSecret.Handle(ctx, f.owner, commands.RevealSecret{OrgID: f.orgID, SecretID: created.ID, Env: domain.Development}); !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("reveal of deleted secret: got %v, want not_found", err)
	}
	if _, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: "DB_PASSWORD"}); err != nil {
		t.Fatalf("re-create a deleted name: %v", err)
	}
}

func TestOutsiderGetsNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	out, err := f.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "out@example.com", Name: "Out", Password: domain.NewPlaintext("tall-lamp-seven-oaks")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.h.CreateSecret.Handle(ctx, commands.Meta{UserID: out.ID}, commands.CreateSecret{OrgID: f.orgID, Name: "X"})
	if !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("outsider create: got %v, want not_found", err)
	}
}

// A rotation the keyring made by itself is recorded on the organization once, with no
// actor; the platform scope records nothing.
func TestRecordAutomaticDataKeyRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for range 2 { // the second report of the same rotation lands on the first
		if err := f.h.DataKeys.RecordAutomaticRotation(ctx, f.orgID, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.h.DataKeys.RecordAutomaticRotation(ctx, domain.PlatformScope, 2); err != nil {
		t.Fatalf("platform scope: %v", err)
	}
	l, err := f.store.Load(ctx, eventstore.Aggregate{OrgID: f.orgID, Type: domain.AggregateOrganization, ID: f.orgID})
	if err != nil {
		t.Fatal(err)
	}
	var got []domain.Recorded
	for _, r := range l.Events {
		if _, ok := r.Event.(domain.DataKeyRotated); ok {
			got = append(got, r)
		}
	}
	if len(got) != 1 || got[0].Event != (domain.DataKeyRotated{Version: 2, Automatic: true}) || got[0].Actor != (domain.Actor{}) {
		t.Fatalf("recorded %+v", got)
	}
}
