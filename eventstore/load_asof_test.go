package eventstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// TestLoadAsOfReadsOnlyTheAggregatesUpToTheInstant: LoadAsOf returns an aggregate's (or,
// with AnyID, a type's) events recorded at or before the instant, and nothing of other
// aggregates.
func TestLoadAsOfReadsOnlyTheAggregatesUpToTheInstant(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	key, err := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	// A clock set to minute i before the i-th append: minute(i) is its time, however
	// often the store (or its keyring) reads the clock during one append.
	epoch := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	minute := func(i int64) time.Time { return epoch.Add(time.Duration(i) * time.Minute) }
	var ticks atomic.Int64
	store, err := eventstore.Open(ctx, env.Conn, key, eventstore.Options{Now: func() time.Time { return minute(ticks.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	const org = "11111111-1111-1111-1111-111111111111"
	secretA := eventstore.Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: "22222222-2222-2222-2222-222222222222"}
	secretB := eventstore.Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: "33333333-3333-3333-3333-333333333333"}
	tokenX := eventstore.Aggregate{OrgID: org, Type: domain.AggregateServiceToken, ID: "44444444-4444-4444-4444-444444444444"}
	tokenY := eventstore.Aggregate{OrgID: org, Type: domain.AggregateServiceToken, ID: "55555555-5555-5555-5555-555555555555"}
	elsewhere := eventstore.Aggregate{OrgID: "66666666-6666-6666-6666-666666666666", Type: domain.AggregateServiceToken, ID: tokenX.ID}
	desc := "changed"
	token := domain.ServiceTokenCreated{Name: "t", Environments: []domain.Environment{domain.Production}, SecretHash: "h"}
	for _, p := range []eventstore.Pending{
		{Aggregate: secretA, Position: 1, Events: []domain.Event{created("A")}},                                              // minute 0
		{Aggregate: tokenX, Position: 1, Events: []domain.Event{token}},                                                      // 1
		{Aggregate: elsewhere, Position: 1, Events: []domain.Event{token}},                                                   // 2
		{Aggregate: tokenY, Position: 1, Events: []domain.Event{token}},                                                      // 3
		{Aggregate: secretB, Position: 1, Events: []domain.Event{created("B")}},                                              // 4
		{Aggregate: secretA, Unchecked: true, Position: 2, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}, // 5
		{Aggregate: tokenX, Unchecked: true, Position: 2, Events: []domain.Event{domain.ServiceTokenRevoked{Name: "t"}}},     // 6
	} {
		if _, err := store.Append(ctx, p); err != nil {
			t.Fatalf("append: %v", err)
		}
		ticks.Add(1)
	}
	anyToken := eventstore.Aggregate{OrgID: org, Type: domain.AggregateServiceToken, ID: eventstore.AnyID}
	for _, tc := range []struct {
		name string
		agg  eventstore.Aggregate
		at   time.Time
		want []string // aggregate id and event type of each event, in order
	}{
		{"before anything", secretA, minute(0).Add(-time.Second), nil},
		{"at the instant of the first event", secretA, minute(0), []string{secretA.ID + " SecretCreated"}},
		{"another secret's events are not read", secretA, minute(4).Add(30 * time.Second), []string{secretA.ID + " SecretCreated"}},
		{"all of one secret", secretA, minute(6), []string{secretA.ID + " SecretCreated", secretA.ID + " SecretUpdated"}},
		{"every token of the org, not another org's", anyToken, minute(3), []string{tokenX.ID + " ServiceTokenCreated", tokenY.ID + " ServiceTokenCreated"}},
		{"every token, revocation included", anyToken, minute(9), []string{tokenX.ID + " ServiceTokenCreated", tokenY.ID + " ServiceTokenCreated", tokenX.ID + " ServiceTokenRevoked"}},
	} {
		got, err := store.LoadAsOf(ctx, tc.agg, tc.at)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var desc []string
		for _, r := range got {
			desc = append(desc, r.AggregateID+" "+r.Event.EventType())
		}
		if len(desc) != len(tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, desc, tc.want)
			continue
		}
		for i := range desc {
			if desc[i] != tc.want[i] {
				t.Errorf("%s: got %q, want %q", tc.name, desc, tc.want)
				break
			}
		}
	}
}
