package eventstoretest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/lease"
)

// HeldLease is a lease another replica holds, renewed in the background, as tests
// that check who projects need one.
type HeldLease struct {
	lease *lease.Lease
	stop  func()
}

// HoldLease takes the lease name for holder and renews it every renewEvery until
// Release (or the test's end). The test fails if another holder takes it meanwhile.
func HoldLease(tb testing.TB, store *eventstore.Store, name, holder string, ttl, renewEvery time.Duration) *HeldLease {
	tb.Helper()
	ctx := context.Background()
	l, err := lease.Open(ctx, store, name, holder, ttl)
	if err != nil {
		tb.Fatal(err)
	}
	if ok, err := l.TryAcquire(ctx); !ok || err != nil {
		tb.Fatalf("eventstoretest: hold lease %s as %q: %v %v", name, holder, ok, err)
	}
	renewCtx, cancel := context.WithCancel(ctx)
	var renewing sync.WaitGroup
	renewing.Go(func() {
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-time.After(renewEvery):
				if err := l.Renew(renewCtx); err != nil && renewCtx.Err() == nil {
					tb.Errorf("eventstoretest: %q lost lease %s: %v", holder, name, err)
					return
				}
			}
		}
	})
	var once sync.Once
	h := &HeldLease{lease: l, stop: func() { once.Do(func() { cancel(); renewing.Wait() }) }}
	tb.Cleanup(h.stop)
	return h
}

// Release stops renewing and gives the lease up at once, as a replica that shuts down
// does.
func (h *HeldLease) Release(tb testing.TB) {
	tb.Helper()
	h.stop()
	if err := h.lease.Release(context.Background()); err != nil {
		tb.Fatal(err)
	}
}
