package commands

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// The cache is bounded: the least recently used aggregates go, except one that a
// command holds, whose turn must stay the only one.
func TestAggregateCacheIsBoundedAndKeepsHeldEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := eventstoretest.New(t)
	cl := newCachedLog(env.Store, 2)
	org := uuid.NewString()
	held, err := cl.secretTurn(ctx, org, uuid.NewString(), false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := loadSecret(ctx, cl, org, uuid.NewString()); err != nil {
			t.Fatal(err)
		}
	}
	cl.secrets.mu.Lock()
	n := len(cl.secrets.byKey)
	_, kept := cl.secrets.byKey[held.turn.agg.Subject()]
	cl.secrets.mu.Unlock()
	if n > 2 || !kept {
		t.Fatalf("cache of size 2 holds %d secrets, the held one kept: %v", n, kept)
	}
	held.release()
	held.release() // a second release is harmless
	again, err := cl.secretTurn(ctx, org, held.turn.agg.ID, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.turn != held.turn {
		t.Fatal("the secret held during the evictions is another entry now")
	}
	again.release()
}
