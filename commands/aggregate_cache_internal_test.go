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
	cl := newCachedLog(env.Store, 2, 2)
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

// Secrets have a bound of their own, below the organizations' and users': a secret
// written once stays cached for nothing, and one not cached is restored from the
// read models in one query.
func TestSecretsHaveTheirOwnCacheBound(t *testing.T) {
	t.Parallel()
	cl := newCachedLog(eventstoretest.New(t).Store, 4, 2)
	if cl.secrets.size != 2 || cl.orgs.size != 4 || cl.users.size != 4 {
		t.Fatalf("bounds: secrets %d, organizations %d, users %d; want 2, 4, 4", cl.secrets.size, cl.orgs.size, cl.users.size)
	}
	if SecretCacheSize >= CacheSize {
		t.Fatalf("SecretCacheSize %d is not below CacheSize %d", SecretCacheSize, CacheSize)
	}
}
