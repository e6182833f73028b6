package eventstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

func TestLeaseHasOneHolder(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	a, err := s.Lease(ctx, "job", "a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Lease(ctx, "job", "b", time.Minute)
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
	if err := a.Renew(ctx); !errors.Is(err, eventstore.ErrLeaseLost) {
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
	old, err := s.Lease(ctx, "job", "previous-life", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := old.TryAcquire(ctx); !ok || err != nil {
		t.Fatalf("old: %v %v", ok, err)
	}
	restarted, err := s.Lease(ctx, "job", "restarted", time.Minute)
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
	if err := old.Renew(ctx); !errors.Is(err, eventstore.ErrLeaseLost) {
		t.Fatalf("old holder renewing after the take-over: %v, want ErrLeaseLost", err)
	}
	if ok, err := old.TryAcquire(ctx); ok || err != nil {
		t.Fatalf("old holder after the take-over: %v %v, want false", ok, err)
	}
	if err := restarted.Renew(ctx); err != nil {
		t.Fatalf("new holder renewing: %v", err)
	}
}
