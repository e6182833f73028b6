package eventstore_test

import (
	"context"
	"maps"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// ChangedAfter lists the secrets of one organization with events after a sequence,
// each with its last such sequence, as RecordedAfter would answer for each of them:
// not another organization's, not another aggregate type's, not those before.
func TestChangedAfterListsAnOrganizationsChangedSecrets(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	const orgA, orgB = "11111111-1111-1111-1111-111111111111", "44444444-4444-4444-4444-444444444444"
	ids := []string{"22222222-2222-2222-2222-222222222201", "22222222-2222-2222-2222-222222222202", "22222222-2222-2222-2222-222222222203"}
	last := map[string]uint64{}
	appendTo := func(org, typ, id string) uint64 {
		t.Helper()
		agg := eventstore.Aggregate{OrgID: org, Type: typ, ID: id}
		recs, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, Unchecked: true, Position: 1, Events: []domain.Event{created("N" + id[len(id)-2:])}})
		if err != nil {
			t.Fatal(err)
		}
		if org == orgA && typ == domain.AggregateSecret {
			last[id] = recs.Seq()
		}
		return recs.Seq()
	}
	before := appendTo(orgA, domain.AggregateSecret, ids[0])
	appendTo(orgA, domain.AggregateSecret, ids[1])
	appendTo(orgB, domain.AggregateSecret, ids[2])
	appendTo(orgA, domain.AggregateOrganization, orgA)
	appendTo(orgA, domain.AggregateSecret, ids[1])
	appendTo(orgA, domain.AggregateSecret, ids[2])

	got, complete, err := s.ChangedAfter(ctx, orgA, domain.AggregateSecret, before, 10)
	if err != nil || !complete {
		t.Fatalf("complete %v, %v", complete, err)
	}
	want := maps.Clone(last)
	delete(want, ids[0])
	if !maps.Equal(got, want) {
		t.Fatalf("changed after %d: %v, want %v", before, got, want)
	}
	for _, id := range ids {
		newer, err := s.RecordedAfter(ctx, eventstore.Aggregate{OrgID: orgA, Type: domain.AggregateSecret, ID: id}, before)
		if err != nil || newer != (got[id] > before) {
			t.Fatalf("%s: RecordedAfter %v (%v), ChangedAfter says last %d", id, newer, err, got[id])
		}
	}
	if got, complete, err := s.ChangedAfter(ctx, orgA, domain.AggregateSecret, before, 1); err != nil || complete || got != nil {
		t.Fatalf("two changed, at most one asked: %v complete %v, %v; want nothing said", got, complete, err)
	}
	if got, complete, err := s.ChangedAfter(ctx, orgA, domain.AggregateSecret, last[ids[2]], 10); err != nil || !complete || len(got) != 0 {
		t.Fatalf("after the last: %v complete %v, %v; want none", got, complete, err)
	}
}
