package projections_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/projections"
)

// heldDurable is the store with its Durable held behind a gate: the log's sync of
// what the projector read is not done until the gate opens.
type heldDurable struct {
	store *eventstore.Store
	gate  *gate
	asked atomic.Int64
}

func (f *heldDurable) Follow(ctx context.Context, from uint64, buffer int) (<-chan eventstore.Delivery, error) {
	return f.store.Follow(ctx, from, buffer)
}

func (f *heldDurable) Durable(ctx context.Context, seq uint64) error {
	f.asked.Add(1)
	if err := f.gate.wait(ctx); err != nil {
		return err
	}
	return f.store.Durable(ctx, seq)
}

// A batch commits only once what it read from the log is on disk (the embedded
// server's group sync): the read models never hold an event that a power cut could
// take from the log, to be recorded again, differently, under the same sequence.
func TestABatchCommitsOnlyOnceItsEventsAreOnDisk(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	f := &heldDurable{store: r.env.Store, gate: newGate()}
	f.gate.shut()
	r.startProjectorWith(t, projections.NewProjector(r.db, f, nil))
	res := r.create(t, "HELD", map[domain.Environment]string{domain.Production: "v"})

	deadline := time.Now().Add(10 * time.Second)
	for f.asked.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the projector never asked whether its batch's events are on disk")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := r.db.Progress.WaitFor(ctx, res.Seq); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the read models reached the create before its event was on disk (wait: %v)", err)
	}
	f.gate.release()
	r.wait(t, res.Seq)
}
