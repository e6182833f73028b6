package projections_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/lease"
	"github.com/keyledger/keyledger/projections"
)

// Two replicas' projectors share a lease: one projects; when it stops, the other takes
// over and the read models keep up.
func TestProjectorLeaseFailsOver(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	start := func(holder string) context.CancelFunc {
		t.Helper()
		lease, err := lease.Open(ctx, r.env.Store, "read_models", holder, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		pctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			_ = projections.NewProjector(r.db, r.env.Store, nil).WithLease(lease, 300*time.Millisecond, 300*time.Millisecond).Run(pctx)
		})
		stop := func() { cancel(); wg.Wait() }
		t.Cleanup(stop)
		return stop
	}
	stopA := start("replica-a")
	first := r.create(t, "BEFORE_FAILOVER", map[domain.Environment]string{domain.Production: "x"})
	r.wait(t, first.Seq) // only A runs: it holds the lease
	start("replica-b")   // B stands by
	stopA()              // A stops and releases; B must take over
	second := r.create(t, "AFTER_FAILOVER", map[domain.Environment]string{domain.Production: "y"})
	r.wait(t, second.Seq)
	if _, err := r.db.Secrets.GetSecret(ctx, r.orgID, second.ID); err != nil {
		t.Fatalf("after failover: %v", err)
	}
}
