package authcache

import (
	"context"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func open(t *testing.T, env *eventstoretest.Env, opts Options) *Cache {
	t.Helper()
	nc, err := env.Server.Connect("authcache-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := Open(context.Background(), jetstreamOf(t, nc), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Two replicas: an invalidation on one drops the entry on the other before it returns.
func TestInvalidateReachesEveryReplica(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	a, b := open(t, env, Options{}), open(t, env, Options{})
	b.Put(b.Begin(), "k", []string{"token:1"}, "v")
	b.Put(b.Begin(), "other", []string{"token:2"}, "w")
	if v, ok := b.Get("k"); !ok || v != "v" {
		t.Fatalf("get %v %v", v, ok)
	}
	if err := a.Invalidate(context.Background(), "token:1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get("k"); ok {
		t.Fatal("the entry survived the invalidation on the other replica")
	}
	if _, ok := b.Get("other"); !ok {
		t.Fatal("an unrelated entry was dropped")
	}
	if s := a.Stats(); s.Fenced != 0 {
		t.Fatalf("a live replica was fenced: %+v", s)
	}
}

// A value loaded while an invalidation arrived is not kept.
func TestPutAfterAnInvalidationIsDropped(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	a := open(t, env, Options{})
	g := a.Begin()
	if err := a.Invalidate(context.Background(), "token:1"); err != nil {
		t.Fatal(err)
	}
	a.Put(g, "k", []string{"token:1"}, "stale")
	if _, ok := a.Get("k"); ok {
		t.Fatal("a value loaded before an invalidation was kept")
	}
}

// A replica that does not hear invalidations (here: it stopped listening) is fenced:
// when Invalidate returns, it no longer answers from its cache; it registers again,
// empty, and caches anew.
func TestASilentReplicaIsFencedBeforeInvalidateReturns(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	opts := Options{Heartbeat: 50 * time.Millisecond, Freshness: 400 * time.Millisecond, AckTimeout: 300 * time.Millisecond}
	a, b := open(t, env, opts), open(t, env, opts)
	b.Put(b.Begin(), "k", []string{"token:1"}, "v")
	if err := b.sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := a.Invalidate(context.Background(), "token:1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get("k"); ok {
		t.Fatal("the silent replica still answers from its cache after Invalidate returned")
	}
	if s := a.Stats(); s.Fenced != 1 {
		t.Fatalf("stats %+v", s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.Put(b.Begin(), "k2", []string{"token:2"}, "v2")
		if _, ok := b.Get("k2"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fenced replica never registered again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := b.Get("k"); ok {
		t.Fatal("the fenced replica kept its old entries")
	}
}

func jetstreamOf(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// The listing Invalidate waits on holds every registered replica even while they renew
// their presence all the time: a replica left out would go on answering from its cache.
// (Listed through a watcher, a replica whose renewal replaced its entry between the
// watcher's creation and its delivery could be missed: the watcher said "all delivered"
// before the replaced entry's successor arrived.)
func TestTheListingHoldsEveryReplicaWhileTheyRenew(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	opts := Options{Heartbeat: time.Millisecond, Freshness: time.Second}
	lister := open(t, env, Options{Heartbeat: time.Hour, Freshness: 2 * time.Hour})
	want := map[string]bool{lister.id: true}
	for range 6 {
		want[open(t, env, opts).id] = true
	}
	for i := range 300 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := lister.replicas(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for id := range want {
			if !got[id] {
				t.Fatalf("listing %d left out replica %s: got %v", i, id, got)
			}
		}
	}
}

// A fenced replica that stays silent is waited out by the next invalidation too (it
// may still be fresh), without being deleted again (which would keep its marker
// alive); a replica that closed is not listed at all.
func TestAFencedReplicaIsWaitedOutAgainAndAClosedOneIsGone(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	opts := Options{Heartbeat: 50 * time.Millisecond, Freshness: 400 * time.Millisecond, AckTimeout: 300 * time.Millisecond}
	a, b, gone := open(t, env, opts), open(t, env, opts), open(t, env, opts)
	gone.Close()
	ctx := context.Background()
	got, err := a.replicas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got[gone.id] || !got[b.id] || !got[a.id] {
		t.Fatalf("listing %v: want a and b, not the closed replica", got)
	}
	// b goes silent: it neither hears invalidations nor renews.
	if err := b.sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	close(b.stop)
	<-b.done
	if err := a.Invalidate(ctx, "token:1"); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := a.Invalidate(ctx, "token:2"); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(started); waited < opts.AckTimeout+opts.Freshness {
		t.Fatalf("the second invalidation returned after %v without waiting the fenced replica out", waited)
	}
	if s := a.Stats(); s.Fenced != 1 {
		t.Fatalf("the fenced replica was deleted again: %+v", s)
	}
}
