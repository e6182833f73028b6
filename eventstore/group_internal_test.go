package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go"
)

// A multi-event message as every version before coalescing wrote it (no per-event
// owner: the envelope's actor, time and idempotency mark are every event's, versions
// count on from the envelope's) still decodes the same.
func TestDecodeOldFormatMultiEventMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	org := "88888888-8888-8888-8888-888888888888"
	agg := Aggregate{OrgID: org, Type: domain.AggregateAccess, ID: org}
	at := time.Date(2026, 11, 30, 12, 0, 0, 123000, time.UTC)
	first := domain.SecretRevealed{SecretID: "s-1", Env: domain.Production, Version: 3}
	second := domain.AccessDenied{Action: domain.AuditSecretRevealed, SecretID: "s-2", Env: domain.Staging, Code: domain.CodeForbidden}
	seal := func(version int, typ string, ev domain.Event) string {
		plain, _ := json.Marshal(ev)
		aad := "keyledger/event/" + org + "/" + agg.Type + "/" + agg.ID + "/" + fmt.Sprint(version) + "/" + typ
		sealed, err := s.keys.Seal(ctx, org, plain, []byte(aad))
		if err != nil {
			t.Fatal(err)
		}
		return sealed
	}
	// The old format, spelled out as JSON rather than through today's types.
	old := fmt.Sprintf(`{"id":"01JOLD0000000000000000000A","type":"SecretRevealed","schema":1,"org":%q,"agg_type":"access","agg_id":%q,`+
		`"version":7,"time":%q,"actor":{"user_id":"u-old","ip":"10.0.0.1","user_agent":"old-cli"},"payload":%q,`+
		`"more":[{"id":"01JOLD0000000000000000000B","type":"AccessDenied","schema":1,"payload":%q}],`+
		`"idem":{"key":"k-1","request":"r-1"}}`,
		org, org, at.Format(time.RFC3339Nano), seal(7, "SecretRevealed", first), seal(8, "AccessDenied", second))
	if _, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: agg.Subject(), Data: []byte(old)}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(ctx, agg)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Events) != 2 {
		t.Fatalf("%d events, want 2", len(l.Events))
	}
	wantIDs := []string{"01JOLD0000000000000000000A", "01JOLD0000000000000000000B"}
	for i, r := range l.Events {
		if r.EventID != wantIDs[i] || r.Actor.UserID != "u-old" || r.Actor.UserAgent != "old-cli" || !r.Time.Equal(at) ||
			r.Idempotency != (domain.IdempotencyMark{Key: "k-1", Request: "r-1"}) || r.Seq != l.LastSeq {
			t.Fatalf("event %d decoded as %+v", i, r)
		}
	}
	if got := l.Events[0].Event.(domain.SecretRevealed); got != first {
		t.Fatalf("first event %+v", got)
	}
	if got := l.Events[1].Event.(domain.AccessDenied); got != second {
		t.Fatalf("second event %+v", got)
	}
}

// Unchecked appends queued behind a message in flight are written as one message, and
// each caller gets, and the log keeps, its own events with its own actor, time,
// idempotency mark and versions.
func TestCoalescedAppendsKeepTheirOwners(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	org := "77777777-7777-7777-7777-777777777777"
	agg := Aggregate{OrgID: org, Type: domain.AggregateAccess, ID: org}
	var calls atomic.Int32
	publishing, release := make(chan struct{}), make(chan struct{})
	s.ObserveAppends(func(time.Duration, error) {
		if calls.Add(1) == 1 {
			close(publishing)
			<-release
		}
	})
	pending := func(i int) Pending {
		p := Pending{
			Aggregate: agg, Unchecked: true, Position: i,
			Actor:  domain.Actor{UserID: fmt.Sprintf("u-%d", i), UserAgent: fmt.Sprintf("agent-%d", i)},
			Events: []domain.Event{domain.SecretRevealed{SecretID: fmt.Sprintf("s-%d", i), Env: domain.Production, Version: i}},
		}
		if i%2 == 0 {
			p.Idempotency = domain.IdempotencyMark{Key: fmt.Sprintf("key-%d", i)}
			p.Events = append(p.Events, domain.AccessDenied{Action: "x", SecretID: fmt.Sprintf("s-%d", i), Code: domain.CodeForbidden})
		}
		return p
	}
	const n = 6
	out := make([]Appended, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	run := func(i int) {
		defer wg.Done()
		out[i], errs[i] = s.Append(ctx, pending(i))
	}
	wg.Add(1)
	go run(0)
	<-publishing
	wg.Add(n - 1)
	for i := 1; i < n; i++ {
		go run(i)
	}
	for s.QueuedAppends() < n-1 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()

	byID := map[string]domain.Recorded{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("append %d: %v", i, errs[i])
		}
		for _, r := range out[i] {
			byID[r.EventID] = r
		}
	}
	if out[0].Seq() == out[1].Seq() {
		t.Fatal("the held append shares its message with a later one")
	}
	for i := 2; i < n; i++ {
		if out[i].Seq() != out[1].Seq() {
			t.Fatalf("append %d in message %d, append 1 in %d: the queued appends were not coalesced", i, out[i].Seq(), out[1].Seq())
		}
	}
	l, err := s.Load(ctx, agg)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Events) != len(byID) {
		t.Fatalf("the log holds %d events, the callers were answered %d", len(l.Events), len(byID))
	}
	for _, r := range l.Events {
		want, ok := byID[r.EventID]
		if !ok {
			t.Fatalf("event %s in the log answered to no caller", r.EventID)
		}
		if r.Seq != want.Seq || r.Actor != want.Actor || !r.Time.Equal(want.Time) || r.Idempotency != want.Idempotency ||
			fmt.Sprint(r.Event) != fmt.Sprint(want.Event) {
			t.Fatalf("event %s: log has %+v, caller was answered %+v", r.EventID, r, want)
		}
	}
}
