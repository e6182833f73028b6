package projections_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/projections"
)

// flakyFollower refuses to follow fails times, then follows (delivering nothing) for
// healthyFor before its feed ends, then refuses again. It records when it was asked.
type flakyFollower struct {
	fails      int
	healthyFor time.Duration

	mu    sync.Mutex
	calls []time.Time
}

// Durable has nothing to wait for: the follower delivers nothing.
func (*flakyFollower) Durable(context.Context, uint64) error { return nil }

func (f *flakyFollower) Follow(ctx context.Context, _ uint64, _ int) (<-chan eventstore.Delivery, error) {
	f.mu.Lock()
	f.calls = append(f.calls, time.Now())
	n := len(f.calls)
	f.mu.Unlock()
	if n != f.fails+1 {
		return nil, errors.New("nats: connection refused")
	}
	ch := make(chan eventstore.Delivery)
	go func() {
		defer close(ch)
		select {
		case <-time.After(f.healthyFor):
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

func (f *flakyFollower) callTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls...)
}

// After failures that push its backoff to the cap, a projector whose follower then runs
// healthily for a while must treat the next failure as a first one: it tries again after
// the first interval (100 ms), not after the capped second it had grown to.
func TestProjectorBackoffResetsAfterHealthyRun(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	f := &flakyFollower{fails: 6, healthyFor: 1500 * time.Millisecond}
	r.startProjectorWith(t, projections.NewProjector(r.db, f, nil))

	want := f.fails + 3 // the failures, the healthy run, and two attempts after it
	deadline := time.Now().Add(20 * time.Second)
	var calls []time.Time
	for calls = f.callTimes(); len(calls) < want; calls = f.callTimes() {
		if time.Now().After(deadline) {
			t.Fatalf("the projector asked to follow %d times in 20 s, want %d", len(calls), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Before the healthy run the backoff grew to its cap.
	if gap := calls[f.fails].Sub(calls[f.fails-1]); gap < 900*time.Millisecond {
		t.Fatalf("wait before the healthy run = %s, want the capped 1 s", gap)
	}
	// After it, the first failure waits the first interval again.
	healthy := calls[f.fails]
	after := calls[f.fails+1].Sub(healthy) - f.healthyFor
	if after > 600*time.Millisecond {
		t.Fatalf("wait after a healthy run of %s = %s, want the first interval (100 ms): the backoff did not reset", f.healthyFor, after)
	}
	if gap := calls[f.fails+2].Sub(calls[f.fails+1]); gap > 600*time.Millisecond {
		t.Fatalf("second wait after the healthy run = %s, want about 200 ms", gap)
	}
}
