package commands_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// Concurrent reveals in one organization share log messages (one fsync for many):
// their audit records go to the organization's access subject, and unchecked appends
// waiting for the same subject are written as one message. A shape test: the first
// reveal's publish is held until the others are queued behind it, so the count does
// not depend on timing.
func TestConcurrentRevealsShareLogMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	created, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{
		OrgID: f.orgID, Name: "api_key",
		Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("s3cret")},
	})
	if err != nil {
		t.Fatal(err)
	}

	const k = 16
	var calls atomic.Int32
	publishing, release := make(chan struct{}), make(chan struct{})
	f.store.ObserveAppends(func(time.Duration, error) {
		if calls.Add(1) == 1 {
			close(publishing)
			<-release
		}
	})
	t.Cleanup(func() { f.store.ObserveAppends(nil) })

	var wg sync.WaitGroup
	results := make([]commands.Revealed, k)
	errs := make([]error, k)
	reveal := func(i int) {
		defer wg.Done()
		m := f.owner
		m.Actor.UserAgent = fmt.Sprintf("client-%d", i)
		results[i], errs[i] = f.h.RevealSecret.Handle(ctx, m, commands.RevealSecret{OrgID: f.orgID, SecretID: created.ID, Env: domain.Production})
	}
	wg.Add(1)
	go reveal(0)
	<-publishing // the first reveal's message is being stored; the rest must queue
	wg.Add(k - 1)
	for i := 1; i < k; i++ {
		go reveal(i)
	}
	deadline := time.Now().Add(30 * time.Second)
	for f.store.QueuedAppends() < k-1 {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("only %d of %d reveals queued", f.store.QueuedAppends(), k-1)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()

	seqs := map[uint64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("reveal %d: %v", i, err)
		}
		if results[i].Value.Reveal() != "s3cret" {
			t.Fatalf("reveal %d opened %q", i, results[i].Value.Reveal())
		}
		seqs[results[i].Seq] = true
	}
	if len(seqs) >= k {
		t.Fatalf("%d reveals answered with %d distinct log messages, want fewer", k, len(seqs))
	}

	// Every reveal has its own record, with its own actor, in the organization's
	// access subject.
	l, err := f.store.Load(ctx, eventstore.Aggregate{OrgID: f.orgID, Type: domain.AggregateAccess, ID: f.orgID})
	if err != nil {
		t.Fatal(err)
	}
	agents, ids, msgs := map[string]bool{}, map[string]bool{}, map[uint64]bool{}
	for _, r := range l.Events {
		if _, ok := r.Event.(domain.SecretRevealed); !ok {
			t.Fatalf("unexpected %T in the access subject", r.Event)
		}
		if r.Actor.UserID != f.owner.UserID {
			t.Fatalf("record %s has actor %+v", r.EventID, r.Actor)
		}
		agents[r.Actor.UserAgent], ids[r.EventID], msgs[r.Seq] = true, true, true
	}
	if len(l.Events) != k || len(agents) != k || len(ids) != k {
		t.Fatalf("%d records, %d user agents, %d event ids; want %d each", len(l.Events), len(agents), len(ids), k)
	}
	if len(msgs) != 2 {
		t.Fatalf("records in %d messages, want 2 (the held one, then all the queued ones)", len(msgs))
	}
}
