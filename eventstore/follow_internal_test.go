package eventstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
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

// A follower's consumer reads the stream unfiltered when the stream holds the log's
// subjects only (as the one this store creates does): filtered by the log's wildcard,
// the server matched every message's subject against it, a twentieth of a rebuild's
// CPU. A stream given another subject besides is read filtered again, and its other
// messages never reach the follower.
func TestFollowReadsAStreamOfTheLogAloneUnfiltered(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newInternalStore(t)
	appendOne := func(i int) { appendUpdate(t, s, i) }
	follow := func(want int) {
		t.Helper()
		fctx, stop := context.WithCancel(ctx)
		defer stop()
		out, err := s.Follow(fctx, 1, 8)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			select {
			case d := <-out:
				if d.Err != nil || len(d.Records) != 1 {
					t.Fatalf("delivery %d: %d records, %v", i+1, len(d.Records), d.Err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%d deliveries of %d", i, want)
			}
		}
		select {
		case d := <-out:
			t.Fatalf("a delivery past the log's %d events: seq %d, %v", want, d.Seq, d.Err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	filters := func() (out [][]string) {
		t.Helper()
		list := s.stream.ListConsumers(ctx)
		for c := range list.Info() {
			out = append(out, append(c.Config.FilterSubjects, c.Config.FilterSubject))
		}
		if err := list.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for i := range 3 {
		appendOne(i)
	}
	fctx, stop := context.WithCancel(ctx)
	if _, err := s.Follow(fctx, 1, 8); err != nil {
		t.Fatal(err)
	}
	got := filters()
	stop()
	if len(got) != 1 || strings.Join(got[0], "") != "" {
		t.Fatalf("the follower's consumer filters %q, want none", got)
	}
	follow(3)

	addForeignSubject(t, s)
	if _, err := s.js.Publish(ctx, "foreign.note", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	appendOne(3)
	follow(4)
}

// A follower that started reading unfiltered (the stream held the log's subjects only)
// passes over a message on a subject the stream was given afterwards: delivered with
// no records and no error, so that projection moves past it, and the log's next event
// follows. Taken for an event, it did not open, and the projector stopped on it.
func TestFollowPassesOverASubjectAddedWhileItRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newInternalStore(t)
	first := appendUpdate(t, s, 0)
	out, err := s.Follow(ctx, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	receive := func() Delivery {
		t.Helper()
		select {
		case d := <-out:
			return d
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery in 10 s")
			return Delivery{}
		}
	}
	if d := receive(); d.Seq != first || d.Err != nil || len(d.Records) != 1 {
		t.Fatalf("first delivery: seq %d, %d records, %v", d.Seq, len(d.Records), d.Err)
	}
	addForeignSubject(t, s)
	ack, err := s.js.Publish(ctx, "foreign.note", []byte("not an event"))
	if err != nil {
		t.Fatal(err)
	}
	last := appendUpdate(t, s, 1)
	if d := receive(); d.Seq != ack.Sequence || d.Err != nil || len(d.Records) != 0 {
		t.Fatalf("the foreign message: seq %d (want %d), %d records, %v; want passed over", d.Seq, ack.Sequence, len(d.Records), d.Err)
	}
	if d := receive(); d.Seq != last || d.Err != nil || len(d.Records) != 1 {
		t.Fatalf("the event after it: seq %d (want %d), %d records, %v", d.Seq, last, len(d.Records), d.Err)
	}
}

// appendUpdate appends the i-th description update of one secret to s's log and
// returns its stream sequence.
func appendUpdate(t *testing.T, s *Store, i int) uint64 {
	t.Helper()
	agg := Aggregate{OrgID: "11111111-1111-1111-1111-111111111111", Type: domain.AggregateSecret, ID: "22222222-2222-2222-2222-222222222222"}
	desc := fmt.Sprint(i)
	recs, err := s.Append(context.Background(), Pending{Aggregate: agg, Unchecked: true, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}})
	if err != nil {
		t.Fatal(err)
	}
	return recs.Seq()
}

// addForeignSubject gives s's stream a subject outside the log, foreign.>.
func addForeignSubject(t *testing.T, s *Store) {
	t.Helper()
	cfg := s.stream.CachedInfo().Config
	cfg.Subjects = append(cfg.Subjects, "foreign.>")
	if _, err := s.js.UpdateStream(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}
