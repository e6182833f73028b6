package eventstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// followAll reads n deliveries of ch and checks that they are the log's from
// sequence from on, in order, every one opened.
func followAll(t *testing.T, ch <-chan Delivery, from uint64, n int) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for i := range n {
		select {
		case d, ok := <-ch:
			if !ok {
				t.Fatalf("the follower stopped after %d deliveries of %d", i, n)
			}
			want := from + uint64(i)
			if d.Err != nil || d.Seq != want || len(d.Records) != 1 || d.Records[0].Seq != want {
				t.Fatalf("delivery %d: sequence %d (%v), want %d", i, d.Seq, d.Err, want)
			}
		case <-timeout:
			t.Fatalf("%d deliveries of %d in 20 s", i, n)
		}
	}
}

// A follower reads a backlog (a rebuild's log) in batched direct gets without headers,
// as scans do, and goes on with an ordered consumer where the backlog ends: every
// message of the backlog and every one appended later comes out once, in order. A
// follower near the head uses the consumer alone.
func TestFollowReadsABacklogInBareBatches(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newInternalStore(t)
	org := "44444444-4444-4444-4444-444444444444"
	appendN := func(n int) {
		for i := range n {
			desc := fmt.Sprint(i)
			a := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: fmt.Sprintf("%08d-0000-0000-0000-000000000000", i%13)}
			if _, err := s.Append(ctx, Pending{Aggregate: a, Unchecked: true, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(1300)
	if err := s.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	gets := watchDirectGets(t, s.nc)
	ch, err := s.Follow(ctx, 2, 64)
	if err != nil {
		t.Fatal(err)
	}
	followAll(t, ch, 2, 1299)
	appendN(20)
	followAll(t, ch, 1301, 20)
	if err := s.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// 500, 500 and 299 read bare, each asked for while the one before was opened;
	// the consumer goes on after the batch that was not full.
	if filtered, unfiltered, bare := gets.takeAll(); bare != 3 || unfiltered != bare || filtered != 0 {
		t.Fatalf("following a backlog of 1,299: %d filtered, %d unfiltered, %d bare direct gets; want 3 bare", filtered, unfiltered, bare)
	}

	near, err := s.Follow(ctx, 1100, 64)
	if err != nil {
		t.Fatal(err)
	}
	followAll(t, near, 1100, 221)
	if err := s.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, _, bare := gets.takeAll(); bare != 1 {
		t.Fatalf("following 221 messages from the head: %d bare direct gets, want the one that reads them before the consumer", bare)
	}
}

// A backlog with a gap (deleted messages, which the events stream denies and a copy of
// it might not) is read bare up to the batch with the gap; the consumer reads it, and
// the follower delivers every message that is there, in order.
func TestFollowReadsABacklogWithAGap(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newInternalStore(t)
	info, err := s.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.DenyDelete, cfg.DenyPurge = false, false
	if err := s.js.DeleteStream(ctx, StreamName); err != nil {
		t.Fatal(err)
	}
	if s.stream, err = s.js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	org := "55555555-5555-5555-5555-555555555555"
	for i := range 1600 {
		desc := fmt.Sprint(i)
		a := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: fmt.Sprintf("%08d-0000-0000-0000-000000000000", i%17)}
		if _, err := s.Append(ctx, Pending{Aggregate: a, Unchecked: true, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}); err != nil {
			t.Fatal(err)
		}
	}
	deleted := map[uint64]bool{700: true, 701: true}
	for seq := range deleted {
		if err := s.stream.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := s.Follow(ctx, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(20 * time.Second)
	next := uint64(1)
	for next <= 1600 {
		for deleted[next] {
			next++
		}
		select {
		case d, ok := <-ch:
			if !ok {
				t.Fatalf("the follower stopped before sequence %d", next)
			}
			if d.Err != nil || d.Seq != next {
				t.Fatalf("delivery of sequence %d (%v), want %d", d.Seq, d.Err, next)
			}
			next++
		case <-timeout:
			t.Fatalf("no delivery of sequence %d in 20 s", next)
		}
	}
}
