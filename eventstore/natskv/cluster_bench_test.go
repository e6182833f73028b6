package natskv_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/natskv"
)

// What a read that must be current costs on a cluster: Bucket.Get asks the bucket
// stream's leader; "direct" is the KV get it replaced, answered next to the reader
// (by a follower, which may be behind). The reader is next to a follower; the value
// includes opening it (AES-GCM) either way for Bucket.Get, not for direct.
func BenchmarkBucketGetOnCluster(b *testing.B) {
	cl := eventstoretest.NewCluster(b, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*eventstore.SetupTimeout)
	defer cancel()
	const name = "KEYLEDGER_BENCH_KV"
	stores := []*eventstore.Store{cl.StoreOn(ctx, b, 0), cl.StoreOn(ctx, b, 1), cl.StoreOn(ctx, b, 2)}
	w, err := natskv.Open(ctx, stores[0], name, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	leader, err := cl.WaitStreamLeader(ctx, "KV_"+name)
	if err != nil {
		b.Fatal(err)
	}
	follower := stores[(leader+1)%3]
	r, err := natskv.Open(ctx, follower, name, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Put(ctx, "k", []byte("a session's value")); err != nil {
		b.Fatal(err)
	}
	kv, err := follower.JetStream().KeyValue(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("leader", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			if _, err := kv.Get(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
