package natskv_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/natskv"
	"github.com/keyledger/keyledger/eventstore/storeerr"
)

// A bucket keeps values sealed at rest, opens them on Get, tells a missing key with
// storeerr's sentinel (which httpapi matches without NATS), refuses a second Create,
// and forgets a deleted key.
func TestBucketSealsAndKeepsValues(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	b, err := natskv.Open(ctx, env.Store, "KEYLEDGER_TEST_KV", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const key, marker = "k1", "PLAINTEXT_MARKER_9Z"
	if _, err := b.Get(ctx, key); !errors.Is(err, storeerr.ErrNotFound) || !errors.Is(err, natskv.ErrNotFound) {
		t.Fatalf("get of a missing key: %v, want ErrNotFound", err)
	}
	if err := b.Create(ctx, key, []byte(marker)); err != nil {
		t.Fatal(err)
	}
	if err := b.Create(ctx, key, []byte("other")); !errors.Is(err, natskv.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	got, err := b.Get(ctx, key)
	if err != nil || string(got) != marker {
		t.Fatalf("get: %q %v", got, err)
	}
	kv, err := env.Store.JetStream().KeyValue(ctx, "KEYLEDGER_TEST_KV")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := kv.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw.Value(), []byte(marker)) {
		t.Fatalf("the bucket holds the value in clear: %s", raw.Value())
	}
	if err := b.Put(ctx, key, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, key); err != nil || string(got) != "second" {
		t.Fatalf("get after put: %q %v", got, err)
	}
	if err := b.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, key); !errors.Is(err, storeerr.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, key); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
}

// A value sealed under one key does not open under another: a copied entry is refused,
// not served.
func TestBucketValueIsBoundToItsKey(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	b, err := natskv.Open(ctx, env.Store, "KEYLEDGER_TEST_KV", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "a", []byte("value of a")); err != nil {
		t.Fatal(err)
	}
	kv, err := env.Store.JetStream().KeyValue(ctx, "KEYLEDGER_TEST_KV")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := kv.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "b", raw.Value()); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, "b"); err == nil {
		t.Fatalf("a value copied to another key opened: %q", got)
	}
}
