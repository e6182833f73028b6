package eventstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// On a cluster, what one replica has appended every other reads at once, also where a
// read is not a load of an aggregate (whose end the leader confirms): the
// organization of a service token created a moment ago (a token handed out by one
// replica works on the next request to another), and a retried append that the log
// already holds (with the same message id: an idempotent retry on another replica),
// which answers with the events stored. Both were direct gets, which a follower may
// answer from behind: "no such token", and "get event N: no message found". Each
// follower reads in turn, next to its own node; the writer is the stream leader's.
func TestAnotherReplicasAppendIsReadAtOnce(t *testing.T) {
	t.Parallel()
	cl := eventstoretest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*eventstore.SetupTimeout)
	defer cancel()
	stores := []*eventstore.Store{cl.StoreOn(ctx, t, 0), cl.StoreOn(ctx, t, 1), cl.StoreOn(ctx, t, 2)}
	leader, err := cl.WaitStreamLeader(ctx, eventstore.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	const org = "11111111-1111-1111-1111-111111111111"
	const rounds = 100
	var unknown, failed int
	for i := range rounds {
		id := fmt.Sprintf("44444444-4444-4444-4444-%012d", i)
		p := eventstore.Pending{
			Aggregate: eventstore.Aggregate{OrgID: org, Type: domain.AggregateServiceToken, ID: id}, Position: 1,
			Events: []domain.Event{domain.ServiceTokenCreated{Name: "deploy", Environments: []domain.Environment{domain.Production}, SecretHash: "h"}},
			MsgID:  "user|key-" + id,
		}
		first, err := stores[leader].Append(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for j, s := range stores {
			if j == leader {
				continue
			}
			if got, ok, err := s.OrgOf(ctx, domain.AggregateServiceToken, id); err != nil {
				t.Fatalf("node %d OrgOf: %v", j, err)
			} else if !ok {
				unknown++
			} else if got != org {
				t.Fatalf("node %d OrgOf = %q", j, got)
			}
		}
		for j, s := range stores {
			if j == leader {
				continue
			}
			again, err := s.Append(ctx, p)
			if err != nil {
				t.Logf("round %d: the retry on node %d: %v", i, j, err)
				failed++
				continue
			}
			if again.Seq() != first.Seq() || len(again) != 1 || again[0].EventID != first[0].EventID {
				t.Fatalf("node %d retry answered %+v, first %+v", j, again, first)
			}
		}
	}
	if unknown > 0 || failed > 0 {
		t.Fatalf("of %d appends read on both followers: %d tokens not found, %d retries failed", rounds, unknown, failed)
	}
}
