package changefeed_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// On a cluster a feed that resumes on one replica right after a notice was published
// through another starts with that notice. Where to start is a binary search over the
// change stream, whose reads were direct gets: a follower from behind answered "no
// such message" for the newest notices, which the search takes for notices retention
// removed, and the feed started after them. Followers resume in turn next to their
// own node; the publisher is next to the stream's leader.
func TestFeedResumedOnAnotherReplicaMissesNothing(t *testing.T) {
	t.Parallel()
	cl := eventstoretest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*eventstore.SetupTimeout)
	defer cancel()
	open := func(i int) *changefeed.Changes {
		c, err := changefeed.Open(ctx, cl.StoreOn(ctx, t, i))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	feeds := []*changefeed.Changes{open(0), open(1), open(2)}
	leader, err := cl.WaitStreamLeader(ctx, changefeed.ChangesStream)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 60
	publish := func(seq uint64) {
		t.Helper()
		n := wire.ChangeNotice{Type: "secret.updated", OrgID: changesOrg, SecretID: "s1", Env: "production", Seq: seq, Parts: 1}
		if err := feeds[leader].Publish(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	var skipped int
	for i := 1; i <= rounds; i++ {
		// Notice a is the one to resume at; b, published once the feeds are open,
		// wakes a feed whose consumer sits on a follower that missed a's arrival
		// (nats-server then waits for the next pull), so that a slow feed is told
		// from one that skipped a.
		a, b := uint64(2*i-1), uint64(2*i)
		publish(a)
		type opened struct {
			node int
			ch   <-chan wire.ChangeNotice
		}
		var open []opened
		fctx, stop := context.WithTimeout(ctx, 20*time.Second)
		for j, f := range feeds {
			if j == leader {
				continue
			}
			ch, err := f.Follow(fctx, changesOrg, a-1)
			if err != nil {
				stop()
				t.Fatalf("node %d follow: %v", j, err)
			}
			open = append(open, opened{j, ch})
		}
		publish(b)
		for _, o := range open {
			select {
			case got := <-o.ch:
				if got.Seq != a {
					skipped++
				}
			case <-fctx.Done():
				stop()
				t.Fatalf("node %d: no notice after %d within 20 s", o.node, a-1)
			}
		}
		stop()
	}
	if skipped > 0 {
		t.Fatalf("of %d feeds resumed on both followers right after a notice, %d skipped it", rounds, skipped)
	}
}
