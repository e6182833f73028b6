package eventstore

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/keyledger/keyledger/domain"
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
	if _, err := s.loadFrom(ctx, agg.Subject(), 1, 0, &batched); err != nil {
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
