package eventstore

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/nats-io/nats.go"
)

// A v1 OrganizationCreated written to the log before schema 2 existed still loads,
// upcast, through the store: the log is never rewritten.
func TestLoadUpcastsAV1EventInTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	org := "99999999-9999-9999-9999-999999999999"
	env := envelope{ID: "01HZZZZZZZZZZZZZZZZZZZZZZZ", Type: "OrganizationCreated", Schema: 1, Org: org,
		AggType: domain.AggregateOrganization, AggID: org, Position: 1, Time: time.Now().UTC()}
	plain := []byte(`{"name":"Old Co","owner_id":"u-old"}`)
	var err error
	env.Payload, err = s.keys.Seal(ctx, org, plain, env.aad(env.Position, env.Type))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(env)
	agg := Aggregate{OrgID: org, Type: domain.AggregateOrganization, ID: org}
	if _, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: agg.Subject(), Data: data}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(ctx, agg)
	if err != nil {
		t.Fatal(err)
	}
	got := l.Events[0].Event.(domain.OrganizationCreated)
	if got.Name != "Old Co" || got.RevealPolicy != domain.RevealAllowed {
		t.Fatalf("loaded %+v", got)
	}
}

// newInternalStore opens a store on a fresh embedded server, for tests that need the
// package's unexported parts (the eventstoretest helper cannot be imported here).
func newInternalStore(tb testing.TB) *Store {
	tb.Helper()
	ctx := context.Background()
	srv, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	nc, err := srv.Connect("t")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	key, _ := ParseMasterKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	s, err := Open(ctx, nc, key, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
