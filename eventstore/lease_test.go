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
