package eventstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A reader's durable waits for the writers' syncs under way that cover its sequence
// instead of starting a sync of its own, and syncs itself only when none does: no
// writer is syncing, the writers syncing acknowledged only earlier sequences, or the
// covering sync failed.
func TestDurableWaitsForTheWritersSyncsThatCoverIt(t *testing.T) {
	ctx := context.Background()
	var own atomic.Int32
	sync := func(context.Context) error { own.Add(1); return nil }
	durable := func(m *diskMark, seq uint64) <-chan error {
		done := make(chan error, 1)
		go func() { done <- m.durable(ctx, seq, sync) }()
		return done
	}
	waiting := func(done <-chan error) bool {
		select {
		case <-done:
			return false
		case <-time.After(50 * time.Millisecond):
			return true
		}
	}
	ended := func(t *testing.T, done <-chan error, wantOwn int32) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("durable did not return")
		}
		if got := own.Swap(0); got != wantOwn {
			t.Fatalf("durable ran %d syncs of its own, want %d", got, wantOwn)
		}
	}

	t.Run("covered by a finished sync", func(t *testing.T) {
		m := newDiskMark()
		m.syncing(9)
		m.synced(9, nil)
		ended(t, durable(m, 7), 0)
		ended(t, durable(m, 9), 0)
	})
	t.Run("covered by a sync under way", func(t *testing.T) {
		m := newDiskMark()
		m.syncing(10)
		m.syncing(4)
		done := durable(m, 8)
		m.synced(4, nil) // an earlier append's sync ends: not enough
		if !waiting(done) {
			t.Fatal("durable returned before the sync covering it ended")
		}
		m.synced(10, nil)
		ended(t, done, 0)
		ended(t, durable(m, 10), 0) // and later readers find it done
	})
	t.Run("no writer syncing", func(t *testing.T) {
		m := newDiskMark()
		ended(t, durable(m, 3), 1)
		ended(t, durable(m, 3), 0) // its own sync counts for the next reader
	})
	t.Run("only earlier appends syncing", func(t *testing.T) {
		m := newDiskMark()
		m.syncing(5)
		ended(t, durable(m, 8), 1)
		m.synced(5, nil)
	})
	t.Run("the covering sync failed", func(t *testing.T) {
		m := newDiskMark()
		m.syncing(10)
		done := durable(m, 8)
		if !waiting(done) {
			t.Fatal("durable returned before the sync covering it ended")
		}
		m.synced(10, errors.New("fsync: input/output error"))
		ended(t, done, 1)
	})
	t.Run("the reader gives up", func(t *testing.T) {
		m := newDiskMark()
		m.syncing(10)
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.durable(cctx, 8, sync) }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("durable after its context ended: %v", err)
		}
		if own.Swap(0) != 0 {
			t.Fatal("a reader that gave up synced")
		}
	})
}
