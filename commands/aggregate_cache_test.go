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

// cacheFixture is a fixture with two sets of handlers on one log: two API replicas,
// each with its own aggregate cache.
type cacheFixture struct {
	store  *eventstore.Store
	h, h2  *commands.Handlers
	owner  commands.Meta
	orgID  string
	secret string
}

func newCacheFixture(tb testing.TB) cacheFixture {
	tb.Helper()
	env := eventstoretest.New(tb)
	ctx := context.Background()
	names, err := reservation.Open(ctx, env.Store)
	if err != nil {
		tb.Fatal(err)
	}
	f := cacheFixture{store: env.Store, h: commands.New(env.Store, names, time.Now), h2: commands.New(env.Store, names, time.Now)}
	u, err := f.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "owner@example.com", Name: "Owner", Password: domain.NewPlaintext("correct horse battery")})
	if err != nil {
		tb.Fatal(err)
	}
	f.owner = commands.Meta{UserID: u.ID}
	org, err := f.h.CreateOrganization.Handle(ctx, f.owner, commands.CreateOrganization{Name: "Acme"})
	if err != nil {
		tb.Fatal(err)
	}
	f.orgID = org.ID
	created, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{
		OrgID: f.orgID, Name: "hot", Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("v0")},
	})
	if err != nil {
		tb.Fatal(err)
	}
	f.secret = created.ID
	return f
}

func (f cacheFixture) update(tb testing.TB, h *commands.Handlers, m commands.Meta, value string) commands.SecretResult {
	tb.Helper()
	v := domain.NewPlaintext(value)
	res, err := h.UpdateSecret.Handle(context.Background(), m, commands.UpdateSecret{
		OrgID: f.orgID, SecretID: f.secret, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v},
	})
	if err != nil {
		tb.Fatalf("update to %s: %v", value, err)
	}
	return res
}

// The shape of an update's cost: the events it reads from the log do not grow with
// the secret's history (issue 11). 200 updates, then the 201st (with and without an
// Idempotency-Key, and a reveal) reads at most the one organization event, the one
// user event and nothing of the secret's 201 versions.
func TestUpdateReadsNoHistory(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	for i := range 200 {
		f.update(t, f.h, f.owner, fmt.Sprint("v", i+1))
	}
	before := f.store.EventsLoaded()
	res := f.update(t, f.h, f.owner, "v201")
	if got := f.store.EventsLoaded() - before; got > 2 {
		t.Errorf("the 201st update read %d events from the log, want at most 2 (no history)", got)
	}
	if res.Secret.Version() != 202 {
		t.Errorf("version after 201 updates: %d, want 202", res.Secret.Version())
	}
	keyed := f.owner
	keyed.IdempotencyKey, keyed.RequestHash = "k-202", "h-202"
	before = f.store.EventsLoaded()
	f.update(t, f.h, keyed, "v202")
	if got := f.store.EventsLoaded() - before; got > 2 {
		t.Errorf("an update with an Idempotency-Key read %d events, want at most 2", got)
	}
	before = f.store.EventsLoaded()
	rev, err := f.h.RevealSecret.Handle(context.Background(), f.owner, commands.RevealSecret{OrgID: f.orgID, SecretID: f.secret, Env: domain.Production})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.store.EventsLoaded() - before; got > 2 || rev.Value.Reveal() != "v202" {
		t.Errorf("reveal read %d events and got %q, want at most 2 and v202", got, rev.Value.Reveal())
	}
}

// A cached secret never hides another replica's write: the second replica's update
// is seen by the first one's next update, reveal and Idempotency-Key check.
func TestCacheSeesOtherReplicasWrites(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	ctx := context.Background()
	f.update(t, f.h, f.owner, "one")                                         // h caches the secret at version 2
	if got := f.update(t, f.h2, f.owner, "two"); got.Secret.Version() != 3 { // h2 appends behind h's cache
		t.Fatalf("replica 2's update: version %d, want 3", got.Secret.Version())
	}
	if got := f.update(t, f.h, f.owner, "three"); got.Secret.Version() != 4 {
		t.Fatalf("replica 1's update after replica 2's: version %d, want 4", got.Secret.Version())
	}
	f.update(t, f.h2, f.owner, "four")
	rev, err := f.h.RevealSecret.Handle(ctx, f.owner, commands.RevealSecret{OrgID: f.orgID, SecretID: f.secret, Env: domain.Production})
	if err != nil {
		t.Fatal(err)
	}
	if rev.Value.Reveal() != "four" || rev.Version != 5 {
		t.Fatalf("replica 1 revealed %q at version %d, want four at 5", rev.Value.Reveal(), rev.Version)
	}
	keyed := f.owner
	keyed.IdempotencyKey, keyed.RequestHash = "retry-me", "request-1"
	first := f.update(t, f.h2, keyed, "five")
	again := f.update(t, f.h, keyed, "five")
	if !again.Replayed || again.Seq != first.Seq || again.Secret.Version() != first.Secret.Version() {
		t.Fatalf("retry on the other replica: replayed %v at seq %d version %d, want the first result (seq %d, version %d)",
			again.Replayed, again.Seq, again.Secret.Version(), first.Seq, first.Secret.Version())
	}
	keyed.RequestHash = "request-2"
	v := domain.NewPlaintext("six")
	_, err = f.h.UpdateSecret.Handle(ctx, keyed, commands.UpdateSecret{OrgID: f.orgID, SecretID: f.secret, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v}})
	if !domain.IsCode(err, domain.CodeIdempotencyKeyReused) {
		t.Fatalf("the key with another request: got %v, want idempotency_key_reused", err)
	}
}

// Writers on one hot secret without expected_version take turns in the process: none
// of them is answered with a conflict, and every one lands.
func TestHotSecretWritersTakeTurns(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	const writers = 32
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			v := domain.NewPlaintext(fmt.Sprint("w", i))
			_, err := f.h.UpdateSecret.Handle(context.Background(), f.owner, commands.UpdateSecret{
				OrgID: f.orgID, SecretID: f.secret, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v},
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a writer failed: %v", err)
		}
	}
	res := f.update(t, f.h2, f.owner, "last")
	if res.Secret.Version() != writers+2 {
		t.Fatalf("version after %d writers and one more: %d, want %d", writers, res.Secret.Version(), writers+2)
	}
}

// Membership is read fresh from the log by every command, cached or not: a member
// removed on another replica is refused on the next request here, while concurrent
// commands of the organization keep working.
func TestCachedOrganizationSeesRemovalOnAnotherReplica(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	ctx := context.Background()
	u, err := f.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "member@example.com", Name: "Member", Password: domain.NewPlaintext("correct horse battery")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.AddMember.Handle(ctx, f.owner, commands.AddMember{OrgID: f.orgID, Email: "member@example.com", Role: domain.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	member := commands.Meta{UserID: u.ID}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := f.h.RevealSecret.Handle(ctx, member, commands.RevealSecret{OrgID: f.orgID, SecretID: f.secret, Env: domain.Production})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a member's concurrent reveal: %v", err)
		}
	}
	if _, err := f.h2.RemoveMember.Handle(ctx, f.owner, commands.RemoveMember{OrgID: f.orgID, UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = f.h.RevealSecret.Handle(ctx, member, commands.RevealSecret{OrgID: f.orgID, SecretID: f.secret, Env: domain.Production})
	if !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("reveal by a member removed on the other replica: %v, want not_found", err)
	}
}
