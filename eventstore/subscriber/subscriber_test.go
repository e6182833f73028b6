package subscriber_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/subscriber"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// A downstream subscriber stopped during ten changes and restarted receives all ten,
// in order, once.
func TestSubscriberResumesAfterDowntime(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	changes, err := changefeed.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	org := "11111111-1111-1111-1111-111111111111"
	publish := func(seq uint64) {
		t.Helper()
		n := wire.ChangeNotice{Type: "secret.updated", OrgID: org, SecretID: "s", Name: "KEY", Env: "production", NewVersion: int(seq), Seq: seq}
		if err := changes.Publish(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []uint64
	run := func(until int) {
		t.Helper()
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- subscriber.Run(rctx, env.Store.JetStream(), subscriber.Options{OrgID: org, Env: "production", Durable: "billing"},
				func(_ context.Context, n wire.SealedChangeNotice) error {
					mu.Lock()
					got = append(got, n.Seq)
					if len(got) == until {
						cancel()
					}
					mu.Unlock()
					return nil
				})
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("timed out with %v", got)
		}
	}
	for seq := uint64(1); seq <= 3; seq++ {
		publish(seq)
	}
	run(3) // the service handles three, then goes down
	for seq := uint64(4); seq <= 10; seq++ {
		publish(seq) // seven changes while it is down
	}
	run(10) // and comes back
	if fmt.Sprint(got) != "[1 2 3 4 5 6 7 8 9 10]" {
		t.Fatalf("received %v", got)
	}
}

// A subscriber on NATS gets ids and no name: the stored notice holds the name sealed,
// and nothing the handler receives has it in clear.
func TestSubscriberGetsIDsAndNoName(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	org := "22222222-2222-2222-2222-222222222222"
	// The organization has a data key, as it does once it has events.
	if _, err := env.Store.Keyring().Seal(ctx, org, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	changes, err := changefeed.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	const marker = "SUBSCRIBER_MARKER_X4"
	if err := changes.Publish(ctx, wire.ChangeNotice{Type: "secret.created", OrgID: org, SecretID: "secret-1", Name: marker, Env: "staging", NewVersion: 1, Seq: 3, Parts: 1}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var got wire.SealedChangeNotice
	err = subscriber.Run(rctx, env.Store.JetStream(), subscriber.Options{OrgID: org, Durable: "names"},
		func(_ context.Context, n wire.SealedChangeNotice) error {
			got = n
			cancel()
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if got.SecretID != "secret-1" || got.Seq != 3 || got.Name != "" || strings.Contains(fmt.Sprintf("%+v", got), marker) {
		t.Fatalf("the subscriber got %+v, want ids and no name", got)
	}
}
