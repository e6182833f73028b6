package projections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// A batch commits only once what it read from the log is on disk (the embedded
// server's group sync): the read models never hold an event that a power cut could
// take from the log, to be recorded again, differently, under the same sequence.
func TestABatchCommitsOnlyOnceItsEventsAreOnDisk(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	f := &gatedFollower{store: r.env.Store, gate: newGate(), durable: newGate()}
	f.durable.shut()
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
	// The batch's writes may be in PostgreSQL by now (they go while the log syncs),
	// but not committed: nobody reads them, not even the organization (created in the
	// same held batch).
	if rows, _, err := r.db.Secrets.ListSecrets(context.Background(), r.orgID, projections.SecretFilter{Limit: 10}); len(rows) != 0 || !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("the grid before the create's event was on disk: %v %v", rows, err)
	}
	f.durable.release()
	r.wait(t, res.Seq)
}
