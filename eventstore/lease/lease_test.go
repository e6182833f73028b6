package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/lease"
)

func TestLeaseHasOneHolder(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	a, err := lease.Open(ctx, s, "job", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lease.Open(ctx, s, "job", "b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	if ok, err := b.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("b while a holds: %v %v", ok, err)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a again: %v %v", ok, err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("b after release: %v %v", ok, err)
	}
	if err := a.Renew(ctx); !errors.Is(err, lease.ErrLeaseLost) {
		t.Fatalf("a renewing b's lease: %v", err)
	}
}

// A process that restarts after kill -9 finds its previous life's entry in the lease;
// TakeOver makes it the holder at once, and the old holder can no longer renew.
// TryAcquire still leaves a live holder's lease alone.
func TestLeaseTakeOverReplacesAStaleHolder(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	old, err := lease.Open(ctx, s, "job", "previous-life", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := old.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("old: %v %v", ok, err)
	}
	restarted, err := lease.Open(ctx, s, "job", "restarted", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := restarted.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("TryAcquire while another holds it: %v %v, want false", ok, err)
	}
	if err := restarted.TakeOver(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := restarted.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("after TakeOver: %v %v, want held", ok, err)
	}
	if err := old.Renew(ctx); !errors.Is(err, lease.ErrLeaseLost) {
		t.Fatalf("old holder renewing after the take-over: %v, want ErrLeaseLost", err)
	}
	if ok, err := old.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("old holder after the take-over: %v %v, want false", ok, err)
	}
	if err := restarted.Renew(ctx); err != nil {
		t.Fatalf("new holder renewing: %v", err)
	}
}

// The lease's revisions are its fencing tokens: they must grow across holders, across
// an expiry (a holder killed without releasing), a release and a take-over, or a
// paused old holder could not be told from the current one.
func TestLeaseRevisionsGrowAcrossHolders(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	const ttl = time.Second
	open := func(holder string) *lease.Lease {
		t.Helper()
		l, err := lease.Open(ctx, s, "job", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b, c := open("a"), open("b"), open("c")
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	first := a.Status().Revision
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	renewed := a.Status().Revision
	if renewed <= first {
		t.Fatalf("renewal revision %d, want above %d", renewed, first)
	}
	// a stops renewing without releasing, as after kill -9: b gets the lease once the
	// entry expires, at a higher revision.
	deadline := time.Now().Add(5 * ttl)
	for {
		ok, err := b.TryAcquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never got the expired lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	afterExpiry := b.Status().Revision
	if afterExpiry <= renewed {
		t.Fatalf("revision after expiry %d, want above %d", afterExpiry, renewed)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("c after release: %v %v", ok, err)
	}
	afterRelease := c.Status().Revision
	if afterRelease <= afterExpiry {
		t.Fatalf("revision after release %d, want above %d", afterRelease, afterExpiry)
	}
	if err := a.TakeOver(ctx); err != nil {
		t.Fatal(err)
	}
	if tookOver := a.Status().Revision; tookOver <= afterRelease {
		t.Fatalf("revision after take-over %d, want above %d", tookOver, afterRelease)
	}
}

// Status says who holds the lease, whether this process does, and since when the
// revision it last saw was written: what the standby logs and /metrics show.
func TestLeaseStatus(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	const ttl = time.Second
	a, err := lease.Open(ctx, s, "job", "a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lease.Open(ctx, s, "job", "b", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.Status(); st.Held || st.Holder != "" || st.Revision != 0 {
		t.Fatalf("before any try: %+v, want nothing known", st)
	}
	if ok, err := a.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	held := a.Status()
	if !held.Held || held.Holder != "a" || held.Revision == 0 || time.Since(held.RenewedAt) > ttl {
		t.Fatalf("holder's status: %+v", held)
	}
	if ok, err := b.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("b while a holds: %v %v", ok, err)
	}
	if st := b.Status(); st.Held || st.Holder != "a" || st.Revision != held.Revision {
		t.Fatalf("standby's status: %+v, want a's lease at %d", st, held.Revision)
	}
	// Without renewals a stops counting itself the holder once the TTL has passed,
	// whether or not it has heard that it lost the lease.
	time.Sleep(ttl + 100*time.Millisecond)
	if st := a.Status(); st.Held {
		t.Fatalf("a's status a TTL after its last renewal: %+v, want not held", st)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("b after a's lease ended: %v %v", ok, err)
	}
	if st := b.Status(); !st.Held || st.Holder != "b" || st.Revision <= held.Revision {
		t.Fatalf("b's status as holder: %+v", st)
	}
}
