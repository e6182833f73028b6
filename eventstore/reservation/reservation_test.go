package reservation_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/nats-io/nats.go/jetstream"
)

// Of twenty holders reserving one value at once exactly one gets it; the others are
// told who holds it. A stale reservation is taken over only at the revision it was
// seen at, and only its holder releases it.
func TestReservationHasOneHolder(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	r, err := reservation.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	key, err := r.Key(ctx, "org-1", "DATABASE_URL")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(key, "DATABASE_URL") {
		t.Fatalf("the key %q holds the value in clear", key)
	}
	var (
		mu      sync.Mutex
		winners []string
		wg      sync.WaitGroup
	)
	for i := range 20 {
		holder := "h" + string(rune('a'+i))
		wg.Go(func() {
			got, err := r.Reserve(ctx, key, holder)
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			case errors.Is(err, reservation.ErrReserved):
				if got.Holder == "" || got.Holder == holder {
					t.Errorf("refused %s names holder %q", holder, got.Holder)
				}
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("winners %v, want exactly one", winners)
	}
	winner := winners[0]

	cur, err := r.Reserve(ctx, key, "late")
	if !errors.Is(err, reservation.ErrReserved) || cur.Holder != winner {
		t.Fatalf("late reserve: %+v %v", cur, err)
	}
	if err := r.Release(ctx, key, "late"); err != nil {
		t.Fatal(err)
	}
	if again, err := r.Reserve(ctx, key, "late"); !errors.Is(err, reservation.ErrReserved) || again.Holder != winner {
		t.Fatalf("a non-holder's release freed the reservation: %+v %v", again, err)
	}
	taken, err := r.TakeOver(ctx, cur, "successor")
	if err != nil || taken.Holder != "successor" {
		t.Fatalf("take over: %+v %v", taken, err)
	}
	if _, err := r.TakeOver(ctx, cur, "third"); !errors.Is(err, reservation.ErrReserved) {
		t.Fatalf("take over at a stale revision: %v, want ErrReserved", err)
	}
	if err := r.Release(ctx, key, "successor"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reserve(ctx, key, "fresh"); err != nil {
		t.Fatalf("reserve after release: %v", err)
	}
}

// A reservation key is a keyed hash: not the bare hash a dictionary confirms, not the
// same in two organizations, the same after the organization's data key rotates (or
// two creators would reserve one name under two keys), and not computable at all once
// the organization is erased.
func TestReservationKeysAreKeyedPerOrganization(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	r, err := reservation.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	key := func(scope, value string) string {
		t.Helper()
		k, err := r.Key(ctx, scope, value)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	hash := func(k string) string { return k[strings.LastIndexByte(k, '.')+1:] }

	a := key("org-a", "DATABASE_URL")
	if !strings.HasPrefix(a, "org-a.") {
		t.Fatalf("key %q is not in its organization's scope", a)
	}
	if bare := reservation.LegacyKey("org-a", "DATABASE_URL"); hash(a) == hash(bare) {
		t.Fatalf("key %q is the bare SHA-256 %q", a, bare)
	}
	if b := key("org-b", "DATABASE_URL"); hash(a) == hash(b) {
		t.Fatalf("one name hashes alike in two organizations: %q, %q", a, b)
	}
	if other := key("org-a", "DATABASE_URL2"); hash(a) == hash(other) {
		t.Fatalf("two names share key %q", a)
	}
	if _, err := env.Store.Keyring().Rotate(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	if again := key("org-a", "DATABASE_URL"); again != a {
		t.Fatalf("the key moved with a data key rotation: %q, then %q", a, again)
	}
	// Another process (its own keyring, reading the stored keyset) agrees.
	master, err := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := eventstore.Open(ctx, env.Conn, master, eventstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := reservation.Open(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if k2, err := r2.Key(ctx, "org-a", "DATABASE_URL"); err != nil || k2 != a {
		t.Fatalf("another process's key %q (%v), want %q", k2, err, a)
	}
	if err := env.Store.Keyring().Shred(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	if k, err := r.Key(ctx, "org-a", "DATABASE_URL"); err == nil {
		t.Fatalf("an erased organization's name still has key %q", k)
	}
}

// Legacy reservations are listed, held or released (a deletion marker), and Forget
// leaves no trace of their keys in the bucket: not even a marker under them.
func TestForgottenLegacyReservationLeavesNoTrace(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	r, err := reservation.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	legacy := reservation.LegacyKey("org-1", "API_KEY")
	if _, err := r.Reserve(ctx, legacy, "holder-1"); err != nil {
		t.Fatal(err)
	}
	keyed, err := r.Key(ctx, "org-1", "API_KEY")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reserve(ctx, keyed, "holder-2"); err != nil {
		t.Fatal(err)
	}
	// A released legacy key leaves a deletion marker, which still names its hash.
	released := reservation.LegacyKey("org-1", "OLD_KEY")
	if _, err := r.Reserve(ctx, released, "holder-3"); err != nil {
		t.Fatal(err)
	}
	if err := r.Release(ctx, released, "holder-3"); err != nil {
		t.Fatal(err)
	}
	got, err := r.Legacy(ctx)
	want := map[string]string{legacy: "holder-1", released: ""}
	if err != nil || len(got) != len(want) {
		t.Fatalf("legacy reservations %+v (%v), want %v", got, err, want)
	}
	for _, g := range got {
		if h, ok := want[g.Key]; !ok || h != g.Holder {
			t.Fatalf("legacy reservations %+v, want %v", got, want)
		}
		if err := r.Forget(ctx, g.Key); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := r.Holder(ctx, legacy); err != nil || ok {
		t.Fatalf("forgotten reservation still held (%v)", err)
	}
	st, err := env.Store.JetStream().Stream(ctx, "KV_"+reservation.ReservationsBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	for subject := range info.State.Subjects {
		if strings.HasSuffix(subject, "."+legacy) || strings.HasSuffix(subject, "."+released) {
			t.Fatalf("the bucket still has subject %s", subject)
		}
	}
	if left, err := r.Legacy(ctx); err != nil || len(left) != 0 {
		t.Fatalf("legacy reservations left: %+v (%v)", left, err)
	}
	if h, ok, err := r.Holder(ctx, keyed); err != nil || !ok || h.Holder != "holder-2" {
		t.Fatalf("the keyed reservation went too: %+v %v %v", h, ok, err)
	}
}
