package eventstore

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go/jetstream"
)

// loadOneByOne (for servers without batched direct get, such as Debian's 2.9) reads
// exactly what the batched path reads.
func TestLoadOneByOneMatchesBatchedLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	org := "88888888-8888-8888-8888-888888888888"
	agg := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: org}
	other := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: "77777777-7777-7777-7777-777777777777"}
	var last uint64
	for i := range 7 {
		desc := fmt.Sprint(i)
		for _, a := range []Aggregate{agg, other} {
			r, err := s.Append(ctx, Pending{Aggregate: a, Unchecked: true, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}})
			if err != nil {
				t.Fatal(err)
			}
			last = r.Seq()
		}
	}
	var batched, single Loaded
	if _, err := s.loadFrom(ctx, batchQuery{subject: agg.Subject(), from: 1}, &batched); err != nil {
		t.Fatal(err)
	}
	n, err := s.loadOneByOne(ctx, agg.Subject(), 1, 0, &single)
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 || !reflect.DeepEqual(batched, single) || single.LastSeq != last-1 {
		t.Fatalf("one by one (%d): %+v\nbatched: %+v", n, single, batched)
	}
}

// The embedded server's connections keep small synchronous-subscription queues (a
// load allocates one per batch request), still large enough for a whole batch: a
// load of two batches reads every event without a slow-consumer drop.
func TestLoadWithTheSmallSyncQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	if got := s.nc.Opts.SubChanLen; got != SyncQueueLen {
		t.Fatalf("the embedded server's connection queues %d messages per synchronous subscription, want %d", got, SyncQueueLen)
	}
	org := "66666666-6666-6666-6666-666666666666"
	agg := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: org}
	const events = loadBatch + 150
	for i := range events {
		desc := strconv.Itoa(i)
		if _, err := s.Append(ctx, Pending{Aggregate: agg, ExpectedSeq: 0, Unchecked: true, MsgID: "m" + desc,
			Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.Load(ctx, agg)
	if err != nil || l.EventCount() != events {
		t.Fatalf("loaded %d events, %v; want %d", l.EventCount(), err, events)
	}
}

// A command's freshness check (LoadAfter from the sequence its cached copy holds)
// reads no message when nothing is new: reading one made the server load the whole
// message block that holds it into its cache, and checks over random secrets kept
// every block of the stream in memory. The bytes the connection received pin it: the
// answer is a bare "not found", not the aggregate's (large) last event.
func TestLoadAfterReadsNoMessageWhenNothingIsNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	org := "55555555-5555-5555-5555-555555555555"
	agg := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: org}
	other := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: "44444444-4444-4444-4444-444444444444"}
	const size = 256 << 10
	big := strings.Repeat("x", size)
	first, err := s.Append(ctx, Pending{Aggregate: agg, Position: 1, Events: []domain.Event{domain.SecretUpdated{Description: &big}}})
	if err != nil {
		t.Fatal(err)
	}
	// Later messages on other subjects: the answer must come from the subject's own
	// place in the stream, not from the stream's end.
	for i := range 3 {
		desc := strconv.Itoa(i)
		if _, err := s.Append(ctx, Pending{Aggregate: other, Unchecked: true, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}); err != nil {
			t.Fatal(err)
		}
	}
	before := s.nc.Stats().InBytes
	l, err := s.LoadAfter(ctx, agg, first.Seq())
	if err != nil || l.EventCount() != 0 || l.LastSeq != 0 {
		t.Fatalf("nothing new after %d: got %d events, last %d, %v", first.Seq(), l.EventCount(), l.LastSeq, err)
	}
	if got := s.nc.Stats().InBytes - before; got >= size/4 {
		t.Fatalf("the check for newer events received %d bytes: it read the last %d-byte event", got, size)
	}

	// Something new is still found, and only it.
	desc := "new"
	next, err := s.Append(ctx, Pending{Aggregate: agg, ExpectedSeq: first.Seq(), Position: 2, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err = s.LoadAfter(ctx, agg, first.Seq())
	if err != nil || l.EventCount() != 1 || l.LastSeq != next.Seq() {
		t.Fatalf("one new event at %d: got %d events, last %d, %v", next.Seq(), l.EventCount(), l.LastSeq, err)
	}
	if d := l.Events[0].Event.(domain.SecretUpdated).Description; d == nil || *d != desc {
		t.Fatalf("new event %+v", l.Events[0])
	}
}

// A checked append without a caller's message id carries none: the server keeps every
// id it sees for DuplicateWindow, and a fresh one could never come again (the
// expectation refuses a second copy). Its own publish is still known by its event id
// should a resend of it answer "wrong last sequence"; a caller's id is kept.
func TestCheckedAppendWithoutKeyLeavesNoMessageID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	org := "33333333-3333-3333-3333-333333333333"
	agg := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: org}
	desc := "one"
	recs, err := s.Append(ctx, Pending{Aggregate: agg, Position: 1, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.stream.GetLastMsgForSubject(ctx, agg.Subject())
	if err != nil {
		t.Fatal(err)
	}
	if id := raw.Header.Get(jetstream.MsgIDHeader); id != "" {
		t.Fatalf("a checked append without a key was stored with message id %q", id)
	}
	if got, ok := s.lastIfHeader(ctx, agg.Subject(), headerEventID, recs[0].EventID); !ok || got.Seq() != recs.Seq() {
		t.Fatalf("own message by its event id: %v, %v", got, ok)
	}
	if _, ok := s.lastIfHeader(ctx, agg.Subject(), headerEventID, "01JOTHER"); ok {
		t.Fatal("another event id was taken for ours")
	}

	desc = "two"
	keyed := Pending{Aggregate: agg, ExpectedSeq: recs.Seq(), Position: 2, MsgID: "key-2", Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}
	second, err := s.Append(ctx, keyed)
	if err != nil {
		t.Fatal(err)
	}
	raw, err = s.stream.GetLastMsgForSubject(ctx, agg.Subject())
	if err != nil || raw.Header.Get(jetstream.MsgIDHeader) != "key-2" {
		t.Fatalf("a keyed append's message id: %v, %v", raw, err)
	}
	again, err := s.Append(ctx, keyed)
	if err != nil || again.Seq() != second.Seq() {
		t.Fatalf("the keyed retry: %v at %d, want the first result at %d", err, again.Seq(), second.Seq())
	}
}

// Grouped appends (audit records) and shared appends (writers of one secret) carry no
// message id either: each message's id was a fresh event id, which only a resend of
// that very publish could carry, and the server kept every one for DuplicateWindow (15
// minutes) in memory, some 100 bytes each: at a few thousand reveals a second, hundreds
// of megabytes. A shared append that answers "wrong last sequence" still knows its own
// message, by the event id header.
func TestGroupedAndSharedAppendsLeaveNoMessageID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	org := "44444444-4444-4444-4444-444444444444"
	audit := Aggregate{OrgID: org, Type: domain.AggregateOrganization, ID: org}
	if _, err := s.Append(ctx, Pending{Aggregate: audit, Unchecked: true, Events: []domain.Event{domain.SecretRevealed{SecretID: "s1", Env: domain.Production}}}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.GroupedMessages(); m != 1 {
		t.Fatalf("%d grouped messages, want the audit append to go through the group", m)
	}
	raw, err := s.stream.GetLastMsgForSubject(ctx, audit.Subject())
	if err != nil {
		t.Fatal(err)
	}
	if id := raw.Header.Get(jetstream.MsgIDHeader); id != "" {
		t.Fatalf("a grouped append was stored with message id %q", id)
	}

	secret := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: "55555555-5555-5555-5555-555555555555"}
	d1, d2 := "one", "two"
	parts := []Pending{
		{Aggregate: secret, Position: 1, Events: []domain.Event{domain.SecretUpdated{Description: &d1}}},
		{Aggregate: secret, Position: 2, Events: []domain.Event{domain.SecretUpdated{Description: &d2}}},
	}
	out, err := s.AppendShared(ctx, parts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err = s.stream.GetLastMsgForSubject(ctx, secret.Subject())
	if err != nil {
		t.Fatal(err)
	}
	if id := raw.Header.Get(jetstream.MsgIDHeader); id != "" {
		t.Fatalf("a shared append was stored with message id %q", id)
	}
	if got, ok := s.lastIfHeader(ctx, secret.Subject(), headerEventID, out[0][0].EventID); !ok || got.Seq() != out[0].Seq() {
		t.Fatalf("the shared message by its event id: %v, %v", got, ok)
	}
}
