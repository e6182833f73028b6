package eventstore

import (
	"context"
	"testing"
)

// The leader read of a data key finds a stored key, and says "none" for a key never
// stored or deleted since, as a direct get would when the replica is current.
func TestLeaderGetReadsWhatTheBucketHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newInternalStore(t)
	kv := s.keys.kv
	if _, err := kv.Put(ctx, "org-a.v1", []byte("wrapped")); err != nil {
		t.Fatal(err)
	}
	g := s.keys.leader
	if v, ok, err := g.get(ctx, "org-a.v1"); err != nil || !ok || string(v) != "wrapped" {
		t.Fatalf("stored key: %q %v %v", v, ok, err)
	}
	if _, ok, err := g.get(ctx, "org-b.v1"); err != nil || ok {
		t.Fatalf("missing key: %v %v", ok, err)
	}
	if err := kv.Delete(ctx, "org-a.v1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := g.get(ctx, "org-a.v1"); err != nil || ok {
		t.Fatalf("deleted key: %v %v", ok, err)
	}
	// A keyring whose first read misses creates the key once and then finds it.
	sealed, err := s.keys.Seal(ctx, "org-c", []byte("x"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	s.keys.cache = map[string]*scopeKeys{}
	if got, err := s.keys.Open(ctx, "org-c", sealed, []byte("aad")); err != nil || string(got) != "x" {
		t.Fatalf("open after the cache was dropped: %q %v", got, err)
	}
}
