package eventstore

import (
	"context"
	"fmt"
	"reflect"
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
