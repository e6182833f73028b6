package reservation_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// On a cluster every replica sees a reservation another has just taken, and sees it
// gone once released: Holder must not be answered by a follower of the bucket's
// stream from behind (a KV get's direct path), or a replica would release nothing
// (its own reservation read as missing) and a released name would read as held.
// Holders are connected to each follower in turn, the reserving one to the leader.
func TestHolderIsCurrentOnEveryReplica(t *testing.T) {
	t.Parallel()
	cl := eventstoretest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*eventstore.SetupTimeout)
	defer cancel()
	open := func(i int) *reservation.Reservations {
		r, err := reservation.Open(ctx, cl.StoreOn(ctx, t, i))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rs := []*reservation.Reservations{open(0), open(1), open(2)}
	leader, err := cl.WaitStreamLeader(ctx, "KV_"+reservation.ReservationsBucket)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 150
	var missed, outlived int
	for i := range rounds {
		key := fmt.Sprintf("org-1.k%d", i)
		if _, err := rs[leader].Reserve(ctx, key, "holder"); err != nil {
			t.Fatal(err)
		}
		for j, r := range rs {
			if j == leader {
				continue
			}
			cur, ok, err := r.Holder(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				missed++
			} else if cur.Holder != "holder" || cur.Revision == 0 || cur.Created.IsZero() {
				t.Fatalf("node %d: holder of %s %+v", j, key, cur)
			}
		}
		if err := rs[leader].Release(ctx, key, "holder"); err != nil {
			t.Fatal(err)
		}
		for j, r := range rs {
			if j == leader {
				continue
			}
			if _, ok, err := r.Holder(ctx, key); err != nil {
				t.Fatal(err)
			} else if ok {
				outlived++
			}
		}
	}
	if missed > 0 || outlived > 0 {
		t.Fatalf("of %d reservations read on both followers: %d read as free when taken, %d as held when released", rounds, missed, outlived)
	}
}
