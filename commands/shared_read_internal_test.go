package commands

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// gatedLog is a log of one organization whose reads of the events after a sequence
// wait at a gate, and answer with the events appended before the read began.
type gatedLog struct {
	tailLog
	mu     sync.Mutex
	events []domain.Recorded
	reads  atomic.Int32
	began  chan struct{}
	gate   chan struct{}
}

func (l *gatedLog) add(r domain.Recorded) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Seq = uint64(len(l.events) + 1)
	l.events = append(l.events, r)
}

func (l *gatedLog) after(seq uint64) eventstore.Loaded {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := eventstore.Loaded{Events: append([]domain.Recorded(nil), l.events[seq:]...)}
	if n := len(l.events); n > 0 {
		out.LastSeq = uint64(n)
	}
	return out
}

func (l *gatedLog) Load(context.Context, eventstore.Aggregate) (eventstore.Loaded, error) {
	return l.after(0), nil
}

func (l *gatedLog) LoadAfter(ctx context.Context, _ eventstore.Aggregate, after uint64) (eventstore.Loaded, error) {
	l.reads.Add(1)
	got := l.after(after) // what the log holds when the read begins
	l.began <- struct{}{}
	select {
	case <-l.gate:
		return got, nil
	case <-ctx.Done():
		return eventstore.Loaded{}, ctx.Err()
	}
}

// Requests of one organization share its reads of the log: ten that arrive while a
// read is under way wait for one more read, not ten, and that read began after they
// arrived, so each sees a member added before it arrived (a removal the same way).
func TestOrganizationReadsAreSharedAndBeginAfterTheirCallers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	orgID, owner, late := uuid.NewString(), uuid.NewString(), uuid.NewString()
	log := &gatedLog{began: make(chan struct{}, 16), gate: make(chan struct{})}
	log.add(domain.Recorded{OrgID: orgID, AggregateID: orgID, Event: domain.OrganizationCreated{Name: "Acme", OwnerID: owner, RevealPolicy: domain.RevealAllowed}})
	cl := newCachedLog(log, 8, 8)
	if _, err := cl.organization(ctx, orgID); err != nil { // loads the history
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { _, err := cl.organization(ctx, orgID); first <- err }()
	<-log.began // the first read is under way, from before the member was added
	log.add(domain.Recorded{OrgID: orgID, AggregateID: orgID, Event: domain.MemberAdded{UserID: late, Role: domain.RoleViewer}})
	var wg sync.WaitGroup
	roles := make(chan domain.Role, 10)
	for range 10 {
		wg.Go(func() {
			lo, err := cl.organization(ctx, orgID)
			if err != nil {
				t.Error(err)
				return
			}
			roles <- lo.org.Role(late)
		})
	}
	waitUntil(t, func() bool {
		e := cl.orgs.ref(orgAggregate(orgID))
		defer cl.orgs.unref(e)
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.queued != nil
	})
	time.Sleep(20 * time.Millisecond) // let every caller join the queued read
	log.gate <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-log.began // the queued read
	log.gate <- struct{}{}
	wg.Wait()
	close(roles)
	for r := range roles {
		if r != domain.RoleViewer {
			t.Fatalf("a request that arrived after the member was added saw role %q", r)
		}
	}
	if n := log.reads.Load(); n != 2 {
		t.Fatalf("11 requests read the log %d times after the first load, want 2", n)
	}
}

func waitUntil(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
