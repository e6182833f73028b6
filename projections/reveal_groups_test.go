package projections_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/domain"
)

// Reveal snapshot reads of one organization asked while a read is under way wait for
// the next one, and one statement answers them all, each with its own secret's row:
// 42 reads that queued run as 1 statement. A secret the read models do not hold is
// not found, one without a value in the environment has none, and a read alone still
// runs at once.
func TestRevealSnapshotReadsAskedTogetherShareAStatement(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	var ids []string
	var last uint64
	for i := range 40 {
		res := r.create(t, fmt.Sprintf("SHARED_%02d", i), map[domain.Environment]string{domain.Production: "p"})
		ids, last = append(ids, res.ID), res.Seq
	}
	devOnly := r.create(t, "DEV_ONLY", map[domain.Environment]string{domain.Development: "d"})
	r.wait(t, max(last, devOnly.Seq))

	type answer struct {
		snap       domain.RevealSnapshot
		checkpoint uint64
		found      bool
		err        error
	}
	asked := append(append([]string{}, ids...), uuid.NewString(), devOnly.ID)
	before := r.db.Secrets.RevealReads()
	answers := askTogether(t, asked, func() func() { return r.db.Secrets.HoldRevealReads(r.orgID) },
		func() int { return r.db.Secrets.QueuedRevealReads(r.orgID) },
		func(id string) (a answer) {
			a.snap, a.checkpoint, a.found, a.err = r.db.Secrets.RevealSnapshot(ctx, r.orgID, id, domain.Production)
			return a
		})
	if n := r.db.Secrets.RevealReads() - before; n != 1 {
		t.Fatalf("%d reads asked together ran %d statements, want 1", len(asked), n)
	}
	for i, a := range answers[:len(ids)] {
		if a.err != nil || !a.found || !a.snap.HasValue || a.snap.Value.Version != 1 || a.snap.Value.Sealed == "" || a.snap.OwnerID != r.owner.UserID || a.checkpoint < last {
			t.Fatalf("secret %d: %+v", i, a)
		}
		if i > 0 && a.snap.Value.Sealed == answers[i-1].snap.Value.Sealed {
			t.Fatalf("secrets %d and %d got the same sealed value", i-1, i)
		}
	}
	if a := answers[len(ids)]; a.err != nil || a.found {
		t.Fatalf("an unknown secret: %+v", a)
	}
	if a := answers[len(ids)+1]; a.err != nil || !a.found || a.snap.HasValue {
		t.Fatalf("a secret without a production value: %+v", a)
	}
	// Alone, a read runs at once, and gives what the shared one gave.
	for _, i := range []int{0, 17, 39} {
		snap, _, found, err := r.db.Secrets.RevealSnapshot(ctx, r.orgID, ids[i], domain.Production)
		if err != nil || !found || snap != answers[i].snap {
			t.Fatalf("secret %d alone: %+v, %v, found %v; shared: %+v", i, snap, err, found, answers[i].snap)
		}
	}
	if n := r.db.Secrets.RevealReads() - before; n != 4 {
		t.Fatalf("%d statements, want 4", n)
	}
}

// askTogether reads each of ids (read) while hold holds the reads of their kind, waits
// until queued says every one of them waits, then lets them go together, and returns
// the answers in the order of ids.
func askTogether[T any](t *testing.T, ids []string, hold func() (release func()), queued func() int, read func(id string) T) []T {
	t.Helper()
	answers := make([]T, len(ids))
	release := hold()
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { answers[i] = read(id) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for queued() < len(ids) {
		if time.Now().After(deadline) {
			release()
			t.Fatalf("%d reads queued, want %d", queued(), len(ids))
		}
		time.Sleep(time.Millisecond)
	}
	release()
	wg.Wait()
	return answers
}
