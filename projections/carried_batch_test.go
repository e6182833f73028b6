package projections_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// batchStarts counts the batches projectors committed, by how they began.
type batchStarts struct {
	mu sync.Mutex
	n  map[projections.BatchStart]int
}

func (b *batchStarts) BatchStarted(time.Time) {}

func (b *batchStarts) BatchApplied(a projections.AppliedBatch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n[a.Start]++
}

// counts is how many batches were carried on, and how many refused.
func (b *batchStarts) counts() (carried, refused int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n[projections.StartCarried], b.n[projections.StartRefused]
}

// Two projectors on one read models (replicas run without a lease) apply each event
// once. Each carries its batches on from its own last commit (carried_batch.go); when
// the other committed in between, the batch's checks refuse it and it is applied
// again under the locks, which skip what the other applied. The grid, the version
// history and the audit chain end as one projector alone leaves them.
func TestTwoProjectorsOnOneReadModelsApplyEachEventOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	starts := &batchStarts{n: map[projections.BatchStart]int{}}
	for range 2 {
		r.startProjectorWith(t, projections.NewProjector(r.db, r.env.Store, nil).ObserveBatches(starts))
	}
	var last uint64
	ids := []string{}
	for i := 0; i < 400; i++ {
		res := r.create(t, fmt.Sprintf("KEY_%03d", i), map[domain.Environment]string{domain.Production: fmt.Sprint("v", i)})
		ids = append(ids, res.ID)
		last = res.Seq
		if i%4 == 0 {
			v := domain.NewPlaintext(fmt.Sprint("changed", i))
			up, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: res.ID, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v}})
			if err != nil {
				t.Fatal(err)
			}
			last = up.Seq
		}
		r.wait(t, last)
		if _, missed := starts.counts(); i >= 40 && missed > 0 {
			break
		}
	}
	carried, missed := starts.counts()
	if carried == 0 || missed == 0 {
		t.Fatalf("%d batches carried on, %d refused: the test did not have both projectors commit in turn", carried, missed)
	}
	t.Logf("%d secrets: %d batches carried on, %d refused and applied under the locks", len(ids), carried, missed)

	fresh, got, want := r.againFromTheLog(t, last)
	if len(got) != len(ids) || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("two projectors' grid differs from one projector's:\n got %v\nwant %v", got, want)
	}
	for _, id := range ids[:5] {
		gotV, err := r.db.Secrets.ListVersions(ctx, r.orgID, id, domain.Production)
		if err != nil {
			t.Fatal(err)
		}
		wantV, err := fresh.Secrets.ListVersions(ctx, r.orgID, id, domain.Production)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(gotV) != fmt.Sprint(wantV) {
			t.Fatalf("versions of %s: got %v, want %v", id, gotV, wantV)
		}
	}
	if v, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store); err != nil || !v.OK {
		t.Fatalf("the audit chain two projectors wrote: %+v %v", v, err)
	}
}
