package eventstore

import (
	"context"
	"testing"
	"time"
)

// The follower opens messages on several goroutines and still delivers them in the
// order of the log: here the first message cannot finish opening until a later one
// has been opened (one goroutine at a time would never get there), and every message
// comes out in its place. When the log's channel closes, so does the follower's, after
// the last message.
func TestDecodeInOrderDecodesInParallelAndDeliversInOrder(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 3 * decodeChunk
	in := make(chan rawDelivery, n)
	for i := range n {
		in <- rawDelivery{seq: uint64(i + 1)}
	}
	close(in)
	later := make(chan struct{})
	stuck := make(chan struct{})
	out := decodeInOrder(ctx, in, 8, 2, func(r rawDelivery) Delivery {
		switch r.seq {
		case 1:
			select {
			case <-later:
			case <-time.After(10 * time.Second):
				close(stuck)
			}
		case decodeChunk + 1:
			close(later)
		}
		return Delivery{Seq: r.seq}
	})
	next := uint64(1)
	for d := range out {
		if d.Seq != next {
			t.Fatalf("delivered %d, want %d", d.Seq, next)
		}
		next++
	}
	select {
	case <-stuck:
		t.Fatal("the first message waited for a later one that was never opened: one goroutine opens them all")
	default:
	}
	if next != n+1 {
		t.Fatalf("delivered %d messages, want %d", next-1, n)
	}
}

// A follower whose context ends closes its channel, even with messages waiting.
func TestDecodeInOrderStopsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	in := make(chan rawDelivery)
	out := decodeInOrder(ctx, in, 1, 4, func(r rawDelivery) Delivery { return Delivery{Seq: r.seq} })
	in <- rawDelivery{seq: 1}
	in <- rawDelivery{seq: 2}
	cancel()
	for range out {
	}
}
