package webhooks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// On a cluster a delivery or a feed position that one replica has just written reads
// as such on every other: a redelivery asked of another replica than the engine's
// finds the delivery (not a 404), and a cursor is read at its newest position (not an
// older one, which would make deliveries again). Both were KV direct gets, which a
// follower answers from behind. Readers sit next to each follower in turn; the writer
// next to the deliveries bucket's leader.
func TestDeliveriesAndCursorsReadCurrentOnEveryReplica(t *testing.T) {
	t.Parallel()
	cl := eventstoretest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*eventstore.SetupTimeout)
	defer cancel()
	open := func(i int) *Store {
		s, err := OpenStore(ctx, cl.StoreOn(ctx, t, i), 0)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	stores := []*Store{open(0), open(1), open(2)}
	leader, err := cl.WaitStreamLeader(ctx, "KV_"+DeliveriesBucket)
	if err != nil {
		t.Fatal(err)
	}
	w := stores[leader]
	orgID, webhookID := uuid.NewString(), uuid.NewString()
	const rounds = 100
	var missing, behind int
	for i := range rounds {
		d := &Delivery{ID: uuid.NewString(), OrgID: orgID, WebhookID: webhookID, SecretID: uuid.NewString(),
			Env: "production", Seq: uint64(i + 1), Status: StatusFailed, CreatedAt: time.Now()}
		if err := w.create(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := w.setCursor(ctx, orgID, webhookID, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
		for j, r := range stores {
			if j == leader {
				continue
			}
			if _, err := r.Redeliver(ctx, orgID, webhookID, d.ID, time.Now()); errors.Is(err, ErrNotFound) {
				missing++
			} else if err != nil {
				t.Fatalf("node %d redeliver: %v", j, err)
			}
			if c, err := r.cursor(ctx, orgID, webhookID); err != nil {
				t.Fatal(err)
			} else if c != uint64(i+1) {
				behind++
			}
		}
	}
	if missing > 0 || behind > 0 {
		t.Fatalf("of %d writes read on both followers: %d deliveries not found, %d cursors behind", rounds, missing, behind)
	}
}
