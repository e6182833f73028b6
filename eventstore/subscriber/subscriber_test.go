package subscriber_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/subscriber"
)

// A downstream subscriber stopped during ten changes and restarted receives all ten,
// in order, once.
func TestSubscriberResumesAfterDowntime(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	changes, err := env.Store.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	org := "11111111-1111-1111-1111-111111111111"
	publish := func(seq uint64) {
		t.Helper()
		n := eventstore.ChangeNotice{Type: "secret.updated", OrgID: org, SecretID: "s", Name: "KEY", Env: "production", NewVersion: int(seq), Seq: seq}
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
				func(_ context.Context, n eventstore.ChangeNotice) error {
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
