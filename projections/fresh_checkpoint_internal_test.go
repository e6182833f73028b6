package projections

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Requests that arrive while a checkpoint read is under way share the next read, and
// none of them takes the answer of a read that began before it arrived: that read may
// predate a command acknowledged just before the request, and the request would then
// miss its own write.
func TestFreshCheckpointsShareReadsBegunAfterTheCallers(t *testing.T) {
	ctx := context.Background()
	started := make(chan uint64, 10)
	release := make(chan struct{})
	var mu sync.Mutex
	var n uint64
	f := &freshCheckpoints{read: func(ctx context.Context, _ string) (uint64, string, error) {
		mu.Lock()
		n++
		seq := n
		mu.Unlock()
		started <- seq
		<-release
		return seq, "rm", nil
	}}

	first := make(chan uint64, 1)
	go func() {
		seq, _, _ := f.current(ctx)
		first <- seq
	}()
	if got := <-started; got != 1 {
		t.Fatalf("first read %d", got)
	}
	// Five callers arrive while read 1 is under way.
	var wg sync.WaitGroup
	later := make(chan uint64, 5)
	for range 5 {
		wg.Go(func() {
			seq, _, err := f.current(ctx)
			if err != nil {
				t.Error(err)
			}
			later <- seq
		})
	}
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.next != nil })
	time.Sleep(20 * time.Millisecond) // let every caller join
	release <- struct{}{}
	if got := <-first; got != 1 {
		t.Fatalf("the first caller got read %d", got)
	}
	if got := <-started; got != 2 {
		t.Fatalf("second read %d", got)
	}
	release <- struct{}{}
	wg.Wait()
	close(later)
	for seq := range later {
		if seq != 2 {
			t.Fatalf("a caller that arrived during read 1 got read %d", seq)
		}
	}
	if got := f.rounds.Load(); got != 2 {
		t.Fatalf("%d reads for 6 callers, want 2", got)
	}

	// A caller whose context ends leaves; the read goes on for the others.
	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() { _, _, err := f.current(cctx); gone <- err }()
	<-started
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("a cancelled caller got an answer")
	}
	release <- struct{}{}
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return !f.running })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
