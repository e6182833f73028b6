package natskv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/natskv"
)

// On a cluster, what one replica has written (and NATS has acknowledged) every other
// replica reads at once: a session created on replica A authenticates the next
// request on replica B, and a logout on A ends the session on B. A KV get may be
// answered by any replica of the bucket's stream (direct gets), among them a follower
// that has not applied the newest write yet, which read a just-created session as
// missing (a login answered 200, the next request 401) and would read a just-deleted
// one as present. Readers here are connected to each follower in turn, the writer to
// the stream's leader, so that a direct get is answered next to the reader.
func TestBucketReadsAcknowledgedWritesOnEveryReplica(t *testing.T) {
	t.Parallel()
	cl := eventstoretest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*eventstore.SetupTimeout)
	defer cancel()
	const name = "KEYLEDGER_TEST_KV_CLUSTER"
	open := func(i int) *natskv.Bucket {
		b, err := natskv.Open(ctx, cl.StoreOn(ctx, t, i), name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	buckets := []*natskv.Bucket{open(0), open(1), open(2)}
	leader, err := cl.WaitStreamLeader(ctx, "KV_"+name)
	if err != nil {
		t.Fatal(err)
	}
	w := buckets[leader]
	const rounds = 150
	var missed, outlived int
	for i := range rounds {
		k := fmt.Sprintf("k%d", i)
		if err := w.Create(ctx, k, []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
		for j, r := range buckets {
			if j == leader {
				continue
			}
			got, err := r.Get(ctx, k)
			switch {
			case errors.Is(err, natskv.ErrNotFound):
				missed++
			case err != nil:
				t.Fatalf("node %d get %s: %v", j, k, err)
			case string(got) != "v"+k:
				t.Fatalf("node %d get %s: %q", j, k, got)
			}
		}
		if err := w.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		for j, r := range buckets {
			if j == leader {
				continue
			}
			if _, err := r.Get(ctx, k); err == nil {
				outlived++
			} else if !errors.Is(err, natskv.ErrNotFound) {
				t.Fatalf("node %d get %s after delete: %v", j, k, err)
			}
		}
	}
	if missed > 0 || outlived > 0 {
		t.Fatalf("of %d writes read on both followers: %d creates read as missing, %d deletes read as present", rounds, missed, outlived)
	}
}
