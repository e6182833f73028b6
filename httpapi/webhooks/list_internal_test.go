package webhooks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// A listing holds every delivery of the webhook even while the engine updates them
// all the time: a KV watcher alone says "all delivered" by counting, and left out a
// delivery whose update replaced it between the watcher's creation and its delivery.
func TestListHoldsEveryDeliveryWhileTheyChange(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	s, err := OpenStore(ctx, env.Store, 0)
	if err != nil {
		t.Fatal(err)
	}
	orgID, webhookID := uuid.NewString(), uuid.NewString()
	const n = 6
	var all []*Delivery
	for i := range n {
		d := &Delivery{ID: fmt.Sprintf("d%d", i), OrgID: orgID, WebhookID: webhookID, SecretID: uuid.NewString(),
			Env: "production", Seq: uint64(i + 1), Status: StatusPending, CreatedAt: time.Now()}
		if err := s.create(ctx, d); err != nil {
			t.Fatal(err)
		}
		all = append(all, d)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the engine: attempts on every delivery, one after the other
		defer wg.Done()
		for {
			for _, d := range all {
				select {
				case <-stop:
					return
				default:
				}
				e, err := s.deliveries.Get(ctx, deliveryKey(orgID, webhookID, d.ID))
				if err != nil {
					t.Error(err)
					return
				}
				d.Attempts++
				if _, err := s.update(ctx, d, e.Revision()); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := range 200 {
		got, err := s.List(ctx, orgID, webhookID, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("listing %d holds %d deliveries, want %d", i, len(got), n)
		}
	}
}
