package eventstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// A shared append stores several decisions on one aggregate as one message under
// the first one's expected sequence: each part comes back (and loads) with its own
// actor, idempotency mark and events; a stale expectation fails the whole message,
// and parts that do not follow each other are refused before anything is written.
func TestAppendSharedKeepsEachDecision(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	agg := secretAgg("44444444-4444-4444-4444-444444444444")
	first, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, Position: 1, Events: []domain.Event{created("A")}, Actor: domain.Actor{UserID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	d1, d2, d3 := "one", "two", "three"
	update := func(d *string) domain.Event { return domain.SecretUpdated{Description: d} }
	parts := []eventstore.Pending{
		{Aggregate: agg, ExpectedSeq: first.Seq(), Position: 2, Events: []domain.Event{update(&d1)}, Actor: domain.Actor{UserID: "u2", UserAgent: "a"}},
		{Aggregate: agg, ExpectedSeq: first.Seq(), Position: 3, Events: []domain.Event{update(&d2), update(&d3)}, Actor: domain.Actor{UserID: "u3", UserAgent: "b"},
			Idempotency: domain.IdempotencyMark{Key: "k", Request: "r"}},
	}
	if _, err := s.AppendShared(ctx, []eventstore.Pending{parts[0], {Aggregate: agg, ExpectedSeq: first.Seq(), Position: 4, Events: parts[1].Events}}); !errors.Is(err, eventstore.ErrSharedAppend) {
		t.Fatalf("parts with a gap in their versions: %v, want ErrSharedAppend", err)
	}
	out, err := s.AppendShared(ctx, parts)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || len(out[0]) != 1 || len(out[1]) != 2 || out[0].Seq() != out[1].Seq() || out[0].Seq() == first.Seq() {
		t.Fatalf("answers %+v", out)
	}
	if _, err := s.AppendShared(ctx, parts); !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("the same parts again (stale expectation): %v, want ErrVersionConflict", err)
	}
	l, err := s.Load(ctx, agg)
	if err != nil {
		t.Fatal(err)
	}
	if l.EventCount() != 4 || l.LastSeq != out[0].Seq() {
		t.Fatalf("loaded version %d at %d, want 4 at %d", l.EventCount(), l.LastSeq, out[0].Seq())
	}
	for i, want := range []struct {
		user, agent, desc, key string
	}{{"u2", "a", "one", ""}, {"u3", "b", "two", "k"}, {"u3", "b", "three", "k"}} {
		r := l.Events[i+1]
		if r.Actor.UserID != want.user || r.Actor.UserAgent != want.agent || *r.Event.(domain.SecretUpdated).Description != want.desc ||
			r.Idempotency.Key != want.key || r.EventID != append(out[0], out[1]...)[i].EventID {
			t.Fatalf("event %d loaded as %+v", i+1, r)
		}
	}
	if msgs, decisions := s.SharedMessages(); msgs != 1 || decisions != 2 {
		t.Fatalf("shared messages %d with %d decisions, want 1 with 2", msgs, decisions)
	}
}
