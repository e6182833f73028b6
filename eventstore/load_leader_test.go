package eventstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/nats-io/nats.go"
)

// On a cluster, a load holds every event the log acknowledged while a replica that
// was down catches up: nats-server lets a follower answer direct gets once it is 90 %
// synchronized, not when it has caught up, so a read it answers can lack the newest
// acknowledged events. A reveal or an authentication answered from such a read would
// answer from before an update or a revocation (the cluster fault test saw a reveal
// give the value before an acknowledged update).
func TestClusterLoadsHoldEveryAcknowledgedEventWhileAFollowerCatchesUp(t *testing.T) {
	t.Parallel()
	cl := eventstoretest.NewCluster(t, 3)
	nc := cl.Connect(t, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	key, _ := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	s, err := eventstore.Open(ctx, nc, key, eventstore.Options{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	appendNew := func(i int) uint64 {
		agg := secretAgg(fmt.Sprintf("22222222-2222-2222-2222-%012d", i))
		for {
			recs, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, ExpectedSeq: 0, Position: 1, Events: []domain.Event{created(fmt.Sprint("S", i))}})
			if err == nil {
				return recs.Seq()
			}
			if ctx.Err() != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the cluster settling after a kill
		}
	}
	for i := range 1000 { // the log a follower is 90 % synchronized with
		appendNew(i)
	}
	leader, err := cl.WaitStreamLeader(ctx, eventstore.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	follower := (leader + 1) % cl.Size()
	cl.Kill(follower)
	last := map[int]uint64{}
	for i := 10000; i < 10080; i++ { // acknowledged by the leader and the other node
		last[i] = appendNew(i)
	}
	cl.Restart(t, follower)
	// A reader connected to the restarted node: NATS prefers its local responder.
	rc, err := nats.Connect(cl.URLs()[follower])
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	r, err := eventstore.Open(ctx, rc, key, eventstore.Options{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		for i, seq := range last {
			l, err := r.Load(ctx, secretAgg(fmt.Sprintf("22222222-2222-2222-2222-%012d", i)))
			if err != nil {
				continue // a node may refuse for a moment; a load never answers short
			}
			if l.LastSeq != seq {
				t.Fatalf("a load of a secret created at %d reads up to %d (%d events)", seq, l.LastSeq, l.EventCount())
			}
		}
	}
}
