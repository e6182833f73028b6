package eventstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/domain"
)

// queued runs n calls while g pretends to be busy, waits until all of them have
// queued their publish, then flushes: the queue is committed as batches.
func queued(t *testing.T, g *groupCommit, n int, call func(i int)) {
	t.Helper()
	g.mu.Lock()
	if g.flushing {
		g.mu.Unlock()
		t.Fatal("group commit busy before the test")
	}
	g.flushing = true
	g.mu.Unlock()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { call(i) })
	}
	for {
		g.mu.Lock()
		q := len(g.queue)
		g.mu.Unlock()
		if q == n {
			break
		}
		runtime.Gosched()
	}
	g.flush()
	wg.Wait()
}

// queuedAppends appends every pending at once, as one batch.
func queuedAppends(t *testing.T, s *Store, pending []Pending) ([]Appended, []error) {
	t.Helper()
	recs := make([]Appended, len(pending))
	errs := make([]error, len(pending))
	queued(t, s.commits, len(pending), func(i int) { recs[i], errs[i] = s.Append(context.Background(), pending[i]) })
	return recs, errs
}

func newAggregate() Aggregate {
	org := uuid.NewString()
	return Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: uuid.NewString()}
}

// Concurrent appends share one atomic batch (one fsync), each lands at its own
// sequence with its own events, and one that lost its race fails alone.
func TestGroupCommitBatchesConcurrentAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	var pending []Pending
	for i := range 10 {
		desc := fmt.Sprint("batched ", i)
		pending = append(pending, Pending{Aggregate: newAggregate(), Version: 1, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}})
	}
	recs, errs := queuedAppends(t, s, pending)
	batches, appends := s.CommitStats()
	if batches != 1 || appends != 10 {
		t.Fatalf("%d batches holding %d appends, want 1 holding 10", batches, appends)
	}
	seen := map[uint64]bool{}
	for i, p := range pending {
		if errs[i] != nil {
			t.Fatalf("append %d: %v", i, errs[i])
		}
		seq := recs[i].Seq()
		if seen[seq] {
			t.Fatalf("two appends answered sequence %d", seq)
		}
		seen[seq] = true
		l, err := s.Load(ctx, p.Aggregate)
		if err != nil {
			t.Fatal(err)
		}
		got := l.Events[0].Event.(domain.SecretUpdated).Description
		if len(l.Events) != 1 || l.LastSeq != seq || *got != fmt.Sprint("batched ", i) {
			t.Fatalf("append %d answered sequence %d, the log has %d events, the last at %d (%q)", i, seq, len(l.Events), l.LastSeq, *got)
		}
	}

	// A batch with a lost race in it: the server refuses the whole batch, and each
	// append is published again on its own.
	desc := "late"
	pending = pending[:0]
	for range 4 {
		pending = append(pending, Pending{Aggregate: newAggregate(), Version: 1, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}})
	}
	pending = append(pending, Pending{Aggregate: newAggregate(), ExpectedSeq: 3, Version: 4, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}})
	_, errs = queuedAppends(t, s, pending)
	for i, err := range errs[:4] {
		if err != nil {
			t.Errorf("append %d beside a lost race: %v", i, err)
		}
	}
	if !errors.Is(errs[4], ErrVersionConflict) {
		t.Errorf("the append that lost its race: %v, want a version conflict", errs[4])
	}
}

// Reservations of new names share batches too, and a name stays unique: of three
// concurrent reservations of one name (two of them in a batch with other names, which
// the server then refuses as a whole) exactly one wins.
func TestGroupCommitKeepsReservationsUnique(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	r, err := s.Reservations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"org.a", "org.b", "org.c", "org.d", "org.a", "org.a"}
	holders := make([]string, len(keys))
	errs := make([]error, len(keys))
	queued(t, r.commits, len(keys), func(i int) {
		holders[i] = fmt.Sprint("holder-", i)
		_, errs[i] = r.Reserve(ctx, keys[i], holders[i])
	})
	if r.commits.batches.Load() == 0 {
		t.Error("no reservation batch was committed")
	}
	won := map[string]int{}
	for i, err := range errs {
		switch {
		case err == nil:
			won[keys[i]]++
		case !errors.Is(err, ErrReserved):
			t.Fatalf("reserve %s: %v", keys[i], err)
		}
	}
	for _, k := range []string{"org.a", "org.b", "org.c", "org.d"} {
		if won[k] != 1 {
			t.Errorf("%s reserved %d times, want once", k, won[k])
		}
	}
}
