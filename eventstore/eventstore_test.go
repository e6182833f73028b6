package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

func secretAgg(id string) eventstore.Aggregate {
	return eventstore.Aggregate{OrgID: "11111111-1111-1111-1111-111111111111", Type: domain.AggregateSecret, ID: id}
}

func created(name string) domain.Event {
	return domain.SecretCreated{Name: domain.SecretName(name), OwnerID: "u1"}
}

func TestAppendLoadAndOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	agg := secretAgg("22222222-2222-2222-2222-222222222222")
	first, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, ExpectedSeq: 0, Position: 1, Events: []domain.Event{created("A")}, Actor: domain.Actor{UserID: "u1", IP: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	desc := "d"
	if _, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, ExpectedSeq: 0, Position: 1, Events: []domain.Event{created("A")}}); !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("second create: %v, want ErrVersionConflict", err)
	}
	second, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, ExpectedSeq: first.Seq(), Position: 2, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, ExpectedSeq: first.Seq(), Position: 2, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}); !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("stale append: %v, want ErrVersionConflict", err)
	}
	l, err := s.Load(ctx, agg)
	if err != nil {
		t.Fatal(err)
	}
	if l.EventCount() != 2 || l.LastSeq != second.Seq() || l.Events[0].Actor.IP != "127.0.0.1" {
		t.Fatalf("loaded %+v", l)
	}
	if got := l.Events[0].Event.(domain.SecretCreated).Name; got != "A" {
		t.Fatalf("decoded name %q", got)
	}
	empty, err := s.Load(ctx, secretAgg("33333333-3333-3333-3333-333333333333"))
	if err != nil || empty.EventCount() != 0 || empty.LastSeq != 0 {
		t.Fatalf("empty aggregate: %+v %v", empty, err)
	}
}

func TestAppendWithSameMessageIDIsStoredOnce(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	agg := secretAgg("44444444-4444-4444-4444-444444444444")
	p := eventstore.Pending{Aggregate: agg, Position: 1, Events: []domain.Event{created("B")}, MsgID: "user|key-1"}
	a, err := s.Append(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Append(ctx, p)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if a.Seq() != b.Seq() {
		t.Fatalf("retry stored again: %d then %d", a.Seq(), b.Seq())
	}
	l, err := s.Load(ctx, agg)
	if err != nil || l.EventCount() != 1 {
		t.Fatalf("events stored: %d, %v", l.EventCount(), err)
	}
}

func TestConcurrentAppendsExactlyOneWins(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	agg := secretAgg("55555555-5555-5555-5555-555555555555")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Go(func() {
			_, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, Position: 1, Events: []domain.Event{created("C")}})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else if !errors.Is(err, eventstore.ErrVersionConflict) {
				t.Errorf("unexpected: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d appends won, want 1", wins)
	}
}

func TestFollowDeliversInOrderFromASequence(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var seqs []uint64
	for i := range 10 {
		r, err := s.Append(ctx, eventstore.Pending{Aggregate: secretAgg(fmt.Sprintf("66666666-6666-6666-6666-%012d", i)), Position: 1, Events: []domain.Event{created(fmt.Sprint("K", i))}})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, r.Seq())
	}
	ch, err := s.Follow(ctx, seqs[4], 16)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range seqs[4:] {
		d := <-ch
		if d.Err != nil || d.Seq != want {
			t.Fatalf("delivery %d (%v), want %d", d.Seq, d.Err, want)
		}
	}
}

func TestSealedValueIsBoundToWhereItBelongs(t *testing.T) {
	t.Parallel()
	k := eventstoretest.New(t).Store.Keyring()
	ctx := context.Background()
	ref := eventstore.ValueRef{OrgID: "o1", SecretID: "s1", Env: domain.Production, ValueVersion: 1}
	sealed, err := k.SealValue(ctx, ref, domain.NewPlaintext("hunter2-value"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.OpenValue(ctx, ref, sealed)
	if err != nil || got.Reveal() != "hunter2-value" {
		t.Fatalf("open: %v", err)
	}
	for name, other := range map[string]eventstore.ValueRef{
		"other env":     {OrgID: "o1", SecretID: "s1", Env: domain.Staging, ValueVersion: 1},
		"other version": {OrgID: "o1", SecretID: "s1", Env: domain.Production, ValueVersion: 2},
		"other secret":  {OrgID: "o1", SecretID: "s2", Env: domain.Production, ValueVersion: 1},
	} {
		if _, err := k.OpenValue(ctx, other, sealed); !errors.Is(err, eventstore.ErrDecrypt) {
			t.Errorf("%s: %v, want ErrDecrypt", name, err)
		}
	}
	if err := k.Shred(ctx, "o1"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.OpenValue(ctx, ref, sealed); !errors.Is(err, eventstore.ErrNoKey) {
		t.Fatalf("after shredding: %v, want ErrNoKey", err)
	}
}

func TestParseMasterKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{eventstoretest.TestMasterKey, true},
		{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", true},
		{"too-short", false},
		{"", false},
	} {
		if _, err := eventstore.ParseMasterKey(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseMasterKey(%q): %v", tc.in, err)
		}
	}
}

func TestAppendRecordsEveryEventOfADecisionAtomically(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	agg := secretAgg("33333333-3333-3333-3333-333333333333")
	d1, d2 := "one", "two"
	mark := domain.IdempotencyMark{Key: "k", Request: "r"}
	recs, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, Position: 1, Idempotency: mark,
		Events: []domain.Event{created("MULTI"), domain.SecretUpdated{Description: &d1}, domain.SecretUpdated{Description: &d2}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Seq != recs[2].Seq || recs[0].EventID == recs[1].EventID {
		t.Fatalf("appended %+v", recs)
	}
	// A stale expectation refuses the whole decision: none of its events lands.
	if _, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, ExpectedSeq: 0, Position: 4,
		Events: []domain.Event{domain.SecretUpdated{Description: &d1}, domain.SecretDeleted{}}}); !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("stale multi-event append: %v", err)
	}
	l, err := s.Load(ctx, agg)
	if err != nil {
		t.Fatal(err)
	}
	if l.EventCount() != 3 || l.LastSeq != recs.Seq() {
		t.Fatalf("loaded version %d last %d", l.EventCount(), l.LastSeq)
	}
	for i, r := range l.Events {
		if r.EventID != recs[i].EventID || r.Idempotency != mark || r.Event.EventType() != recs[i].Event.EventType() {
			t.Fatalf("event %d loaded as %+v, appended %+v", i, r, recs[i])
		}
	}
	if got := *l.Events[2].Event.(domain.SecretUpdated).Description; got != "two" {
		t.Fatalf("third event's description %q", got)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ch, err := s.Follow(fctx, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	d := <-ch
	if d.Err != nil || len(d.Records) != 3 || d.Seq != recs.Seq() {
		t.Fatalf("follower got %+v", d)
	}
	if _, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, Position: 4}); !errors.Is(err, eventstore.ErrNoEvents) {
		t.Fatalf("empty append: %v", err)
	}
}

// A ValueOpener opens what OpenValue opens, refuses what it refuses (another place, a
// mangled text, a shredded key), and reuses its buffers: a value costs it fewer
// objects than OpenValue (a values fetch opens 100,000 in a row).
func TestValueOpenerOpensAsOpenValueWithFewerObjects(t *testing.T) {
	k := eventstoretest.New(t).Store.Keyring()
	ctx := context.Background()
	o := k.ValueOpener()
	refs := []eventstore.ValueRef{
		{OrgID: "o1", SecretID: "s1", Env: domain.Production, ValueVersion: 1},
		{OrgID: "o1", SecretID: "s2-longer-id", Env: domain.Development, ValueVersion: 12},
	}
	var sealed []string
	for i, ref := range refs {
		s, err := k.SealValue(ctx, ref, domain.NewPlaintext(strings.Repeat("v", 10+200*i)))
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, s)
	}
	for round := range 2 {
		for i, ref := range refs {
			got, err := o.Open(ctx, ref, sealed[i])
			if err != nil || string(got) != strings.Repeat("v", 10+200*i) {
				t.Fatalf("round %d, value %d: %q, %v", round, i, got, err)
			}
		}
	}
	if _, err := o.Open(ctx, refs[1], sealed[0]); !errors.Is(err, eventstore.ErrDecrypt) {
		t.Fatalf("a value opened for another place: %v, want ErrDecrypt", err)
	}
	for _, bad := range []string{"", "kl1", "kl1.x.AAAA", "kl2.!!!", sealed[0][:len(sealed[0])-3]} {
		if _, err := o.Open(ctx, refs[0], bad); !errors.Is(err, eventstore.ErrDecrypt) {
			t.Fatalf("sealed text %q: %v, want ErrDecrypt", bad, err)
		}
	}
	opener := testing.AllocsPerRun(200, func() {
		if _, err := o.Open(ctx, refs[1], sealed[1]); err != nil {
			t.Fatal(err)
		}
	})
	single := testing.AllocsPerRun(200, func() {
		if _, err := k.OpenValue(ctx, refs[1], sealed[1]); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("objects a value: opener %.0f, OpenValue %.0f", opener, single)
	if opener >= single || opener > 3 {
		t.Fatalf("the opener makes %.0f objects a value, OpenValue %.0f: want fewer, and at most 3", opener, single)
	}
	if err := k.Shred(ctx, "o1"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Open(ctx, refs[0], sealed[0]); !errors.Is(err, eventstore.ErrNoKey) {
		t.Fatalf("after shredding: %v, want ErrNoKey", err)
	}
}
