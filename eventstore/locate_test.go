package eventstore_test

import (
	"context"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

func TestOrgOfFindsTheOrganizationOfAnAggregate(t *testing.T) {
	t.Parallel()
	s := eventstoretest.New(t).Store
	ctx := context.Background()
	const (
		orgA  = "11111111-1111-1111-1111-111111111111"
		orgB  = "33333333-3333-3333-3333-333333333333"
		token = "44444444-4444-4444-4444-444444444444"
	)
	// Another aggregate type with the same id in another org must not be taken for it.
	other := eventstore.Aggregate{OrgID: orgA, Type: domain.AggregateSecret, ID: token}
	if _, err := s.Append(ctx, eventstore.Pending{Aggregate: other, Position: 1, Events: []domain.Event{created("A")}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.OrgOf(ctx, domain.AggregateServiceToken, token); err != nil || ok {
		t.Fatalf("before the token exists: ok=%v err=%v, want not found", ok, err)
	}
	agg := eventstore.Aggregate{OrgID: orgB, Type: domain.AggregateServiceToken, ID: token}
	ev := domain.ServiceTokenCreated{Name: "deploy", Environments: []domain.Environment{domain.Production}, SecretHash: "h"}
	if _, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, Position: 1, Events: []domain.Event{ev}}); err != nil {
		t.Fatal(err)
	}
	org, ok, err := s.OrgOf(ctx, domain.AggregateServiceToken, token)
	if err != nil || !ok || org != orgB {
		t.Fatalf("OrgOf = %q, %v, %v; want %q", org, ok, err, orgB)
	}
	for _, id := range []string{"*", ">", "a.b", "", token + ".x"} {
		if _, ok, err := s.OrgOf(ctx, domain.AggregateServiceToken, id); err != nil || ok {
			t.Errorf("OrgOf(%q): ok=%v err=%v, want not found", id, ok, err)
		}
	}
}
