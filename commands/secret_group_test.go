package commands_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// holdFirstPublish makes the store's next append wait, once it is stored, until the
// returned release is called; publishing closes when it is being held.
func holdFirstPublish(t *testing.T, store *eventstore.Store) (publishing <-chan struct{}, release func()) {
	t.Helper()
	var calls atomic.Int32
	held, free := make(chan struct{}), make(chan struct{})
	store.ObserveAppends(func(time.Duration, error) {
		if calls.Add(1) == 1 {
			close(held)
			<-free
		}
	})
	var once sync.Once
	release = func() { once.Do(func() { close(free) }) }
	t.Cleanup(func() { release(); store.ObserveAppends(nil) })
	return held, release
}

// updateAsync starts an update by the owner with client-0's user agent; the
// returned wait answers it.
func (f cacheFixture) updateAsync(h *commands.Handlers, value string) func(t *testing.T) commands.SecretResult {
	type answer struct {
		res commands.SecretResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		m := f.owner
		m.Actor.UserAgent = "client-0"
		v := domain.NewPlaintext(value)
		res, err := h.UpdateSecret.Handle(context.Background(), m, commands.UpdateSecret{
			OrgID: f.orgID, SecretID: f.secret, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v},
		})
		done <- answer{res, err}
	}()
	return func(t *testing.T) commands.SecretResult {
		t.Helper()
		a := <-done
		if a.err != nil {
			t.Fatalf("update to %s: %v", value, a.err)
		}
		return a.res
	}
}

// groupWriter is one concurrent update of the fixture's secret.
type groupWriter struct {
	value, description string
	env                domain.Environment
	expected           *int
	// large sets every environment to a value of 20 kB (built from value).
	large bool
	// track, if set, is told of every value the writer sends.
	track func(*domain.Plaintext)
}

// queueWriters starts each writer after the previous one has queued (so their order
// is known) and returns a wait for their answers.
func queueWriters(t *testing.T, f cacheFixture, h *commands.Handlers, first int, writers []groupWriter) func() ([]commands.SecretResult, []error) {
	t.Helper()
	results, errs := make([]commands.SecretResult, len(writers)), make([]error, len(writers))
	var wg sync.WaitGroup
	for i, w := range writers {
		before := h.UpdateSecret.QueuedWriters()
		wg.Go(func() {
			m := f.owner
			m.Actor.UserAgent = fmt.Sprint("client-", first+i)
			c := commands.UpdateSecret{OrgID: f.orgID, SecretID: f.secret, ExpectedVersion: w.expected}
			switch {
			case w.large:
				c.Values = map[domain.Environment]*domain.Plaintext{}
				for _, env := range domain.Environments() {
					v := domain.NewPlaintext(strings.Repeat(w.value+string(env), 20_000/len(w.value+string(env))))
					c.Values[env] = &v
				}
			case w.value != "":
				v := domain.NewPlaintext(w.value)
				c.Values = map[domain.Environment]*domain.Plaintext{w.env: &v}
			}
			if w.description != "" {
				c.Description = &w.description
			}
			if w.track != nil {
				for _, v := range c.Values {
					w.track(v)
				}
			}
			results[i], errs[i] = h.UpdateSecret.Handle(context.Background(), m, c)
		})
		deadline := time.Now().Add(30 * time.Second)
		for h.UpdateSecret.QueuedWriters() <= before {
			if time.Now().After(deadline) {
				t.Fatalf("writer %d did not queue", first+i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return func() ([]commands.SecretResult, []error) { wg.Wait(); return results, errs }
}

// Writers of one hot secret that queue while a write is being stored go out as ONE
// message, each decided in order on the state the previous ones leave: an
// expected_version that was current at its turn lands, a stale one is refused on its
// own (409) without spoiling the others, an unchanged value is no new version, and
// every caller is answered with its own version. The log keeps each caller's actor.
func TestHotSecretWritersShareOneMessage(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t) // the secret is at version 1
	ctx := context.Background()
	publishing, release := holdFirstPublish(t, f.store)
	first := f.updateAsync(f.h, "w0") // version 2, held in its publish
	<-publishing
	three, five := 3, 5
	writers := []groupWriter{
		{value: "a", env: domain.Production},                   // 1: version 3
		{value: "b", env: domain.Production, expected: &three}, // 2: version 4
		{value: "c", env: domain.Production, expected: &three}, // 3: refused, 4 is current
		{value: "b", env: domain.Production},                   // 4: unchanged: still 4
		{description: "d"},                                     // 5: version 5
		{value: "s", env: domain.Staging, expected: &five},     // 6: version 6
		{value: "x7", env: domain.Production},                  // 7: version 7
		{value: "x8", env: domain.Production},                  // 8: version 8
	}
	wait := queueWriters(t, f, f.h, 1, writers)
	release()
	w0 := first(t)
	results, errs := wait()

	wantVersion := []int{3, 4, 0, 4, 5, 6, 7, 8}
	var groupSeq uint64
	for i, err := range errs {
		if i == 2 {
			if !domain.IsCode(err, domain.CodeVersionConflict) || errors.Is(err, eventstore.ErrVersionConflict) {
				t.Fatalf("writer 3 with a stale expected_version: %v, want its own version_conflict", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("writer %d: %v", i+1, err)
		}
		if got := results[i].Secret.Version(); got != wantVersion[i] {
			t.Errorf("writer %d answered version %d, want %d", i+1, got, wantVersion[i])
		}
		switch {
		case i == 3:
			if results[i].Seq != 0 {
				t.Errorf("the unchanged writer answered seq %d, want 0 (no change)", results[i].Seq)
			}
		case groupSeq == 0:
			groupSeq = results[i].Seq
		case results[i].Seq != groupSeq:
			t.Errorf("writer %d stored at seq %d, the group at %d", i+1, results[i].Seq, groupSeq)
		}
	}
	if w0.Seq == groupSeq || w0.Secret.Version() != 2 {
		t.Fatalf("the held writer: seq %d version %d; the group's seq %d", w0.Seq, w0.Secret.Version(), groupSeq)
	}
	if got, _ := results[5].Secret.Value(domain.Staging); got.Version != 1 || results[5].Secret.Description() != "d" {
		t.Errorf("writer 6's answer: staging version %d, description %q", got.Version, results[5].Secret.Description())
	}
	if got, _ := results[1].Secret.Value(domain.Production); got.Version != 4 { // v0, w0, a, b
		t.Errorf("writer 2's answer: production value version %d, want 4", got.Version)
	}
	if msgs, decisions := f.store.SharedMessages(); msgs != 1 || decisions != 6 {
		t.Errorf("shared messages %d holding %d decisions, want 1 holding 6", msgs, decisions)
	}

	l, err := f.store.Load(ctx, eventstore.Aggregate{OrgID: f.orgID, Type: domain.AggregateSecret, ID: f.secret})
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[uint64]bool{}
	var agents []string
	for _, r := range l.Events[1:] {
		msgs[r.Seq] = true
		agents = append(agents, r.Actor.UserAgent)
	}
	if want := []string{"client-0", "client-1", "client-2", "client-5", "client-6", "client-7", "client-8"}; fmt.Sprint(agents) != fmt.Sprint(want) {
		t.Errorf("the log's updates by %v, want %v", agents, want)
	}
	if len(msgs) != 2 {
		t.Errorf("8 updates stored in %d messages, want 2 (the held one and the group)", len(msgs))
	}
	// Another replica reads the log and continues from the group's last version.
	if got := f.update(t, f.h2, f.owner, "after"); got.Secret.Version() != 9 {
		t.Fatalf("replica 2's update after the group: version %d, want 9", got.Secret.Version())
	}
	rev, err := f.h.RevealSecret.Handle(ctx, f.owner, commands.RevealSecret{OrgID: f.orgID, SecretID: f.secret, Env: domain.Staging})
	if err != nil || rev.Value.Reveal() != "s" {
		t.Fatalf("staging after the group: %v %q", err, rev.Value.Reveal())
	}
}

// A group whose message loses the race to another replica's write is decided again
// as a whole: every writer lands once, on top of the other replica's write, and an
// expected_version that only the lost message made current is refused.
func TestHotSecretGroupLosingARaceRetriesEveryWriter(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	publishing, release := holdFirstPublish(t, f.store)
	first := f.updateAsync(f.h, "w0") // version 2
	<-publishing
	two := 2
	writers := []groupWriter{
		{value: "a", env: domain.Production, expected: &two},
		{value: "b", env: domain.Production},
		{value: "c", env: domain.Staging},
		{value: "d", env: domain.Development},
	}
	wait := queueWriters(t, f, f.h, 1, writers)
	// Replica 2 writes while replica 1's group waits: the group's expected sequence
	// is stale (h trusts its cache) and its message must lose.
	if got := f.update(t, f.h2, f.owner, "other"); got.Secret.Version() != 3 {
		t.Fatalf("replica 2's update: version %d, want 3", got.Secret.Version())
	}
	release()
	first(t)
	results, errs := wait()
	if !domain.IsCode(errs[0], domain.CodeVersionConflict) {
		t.Fatalf("expected_version 2 after replica 2's write: %v, want version_conflict", errs[0])
	}
	versions := map[int]bool{}
	for i, err := range errs[1:] {
		if err != nil {
			t.Fatalf("writer %d: %v", i+2, err)
		}
		versions[results[i+1].Secret.Version()] = true
	}
	if len(versions) != 3 || !versions[4] || !versions[5] || !versions[6] {
		t.Fatalf("the retried writers answered versions %v, want 4, 5 and 6", versions)
	}
	if got := f.update(t, f.h2, f.owner, "last"); got.Secret.Version() != 7 {
		t.Fatalf("after the retried group: version %d, want 7 (no writer lost or doubled)", got.Secret.Version())
	}
}

// A write with an Idempotency-Key keeps its own message among grouped writers, and
// its retry answers the first result.
func TestKeyedWriteAmongGroupedWritersReplays(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	keyed := f.owner
	keyed.IdempotencyKey, keyed.RequestHash = "k-1", "h-1"
	var wg sync.WaitGroup
	var firstKeyed commands.SecretResult
	errs := make(chan error, 17)
	for i := range 16 {
		wg.Go(func() {
			v := domain.NewPlaintext(fmt.Sprint("w", i))
			_, err := f.h.UpdateSecret.Handle(context.Background(), f.owner, commands.UpdateSecret{
				OrgID: f.orgID, SecretID: f.secret, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v},
			})
			errs <- err
		})
	}
	wg.Go(func() {
		v := domain.NewPlaintext("keyed")
		var err error
		firstKeyed, err = f.h.UpdateSecret.Handle(context.Background(), keyed, commands.UpdateSecret{
			OrgID: f.orgID, SecretID: f.secret, Values: map[domain.Environment]*domain.Plaintext{domain.Staging: &v},
		})
		errs <- err
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []*commands.Handlers{f.h, f.h2} {
		again := f.update(t, h, keyed, "keyed-other-value-ignored")
		if !again.Replayed || again.Seq != firstKeyed.Seq || again.Secret.Version() != firstKeyed.Secret.Version() {
			t.Fatalf("keyed retry: replayed %v seq %d version %d, want seq %d version %d",
				again.Replayed, again.Seq, again.Secret.Version(), firstKeyed.Seq, firstKeyed.Secret.Version())
		}
	}
	if got := f.update(t, f.h2, f.owner, "last"); got.Secret.Version() != 19 {
		t.Fatalf("version after 17 writes and one more: %d, want 19", got.Secret.Version())
	}
}

// A group is bounded like a coalesced message (eventstore.MaxSharedBytes): writers
// whose events would not fit wait for the next message, decided again then, and
// every one lands once, in order.
func TestHotSecretGroupIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	publishing, release := holdFirstPublish(t, f.store)
	first := f.updateAsync(f.h, "w0")
	<-publishing
	var writers []groupWriter
	for i := range 6 {
		// About 110 kB of sealed events each: four fit in one message, not five.
		writers = append(writers, groupWriter{value: fmt.Sprint("big", i), large: true})
	}
	writers = append(writers, groupWriter{value: "small", env: domain.Production})
	wait := queueWriters(t, f, f.h, 1, writers)
	release()
	first(t)
	results, errs := wait()
	seqs := map[uint64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i+1, err)
		}
		if got := results[i].Secret.Version(); got != i+3 {
			t.Errorf("writer %d answered version %d, want %d", i+1, got, i+3)
		}
		seqs[results[i].Seq] = true
	}
	if len(seqs) != 2 {
		t.Fatalf("7 writers (6 of about 110 kB) in %d messages, want 2 (at most 512 KiB each)", len(seqs))
	}
}

// Once a grouped write is answered, nothing the cache keeps holds on to it: its
// decision closes over the request's values in plaintext, and its answer over a copy
// of the secret. The queue handed its writers to the leader by reslicing, which kept
// the array of taken writers reachable from the cached secret until its next write:
// for every secret written once, its last update's values stayed in memory. Checked
// for a write alone and for writers split over two messages (the second message's
// writers are queued again).
func TestGroupedWritesAreNotKeptAfterTheirAnswer(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	var mu sync.Mutex
	var sent []weak.Pointer[domain.Plaintext]
	track := func(v *domain.Plaintext) {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, weak.Make(v))
	}
	kept := func() int {
		runtime.GC()
		runtime.GC()
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, p := range sent {
			if p.Value() != nil {
				n++
			}
		}
		return n
	}

	// A write alone.
	func() {
		v := domain.NewPlaintext("alone")
		track(&v)
		if _, err := f.h.UpdateSecret.Handle(context.Background(), f.owner, commands.UpdateSecret{
			OrgID: f.orgID, SecretID: f.secret, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v},
		}); err != nil {
			t.Fatal(err)
		}
	}()
	if n := kept(); n != 0 {
		t.Fatalf("after a write alone was answered, %d of its 1 value is still reachable", n)
	}

	// Writers of about 110 kB each, held behind a publish: four fit in one message,
	// the other two are queued again for the next.
	publishing, release := holdFirstPublish(t, f.store)
	first := f.updateAsync(f.h, "w0")
	<-publishing
	var writers []groupWriter
	for i := range 6 {
		writers = append(writers, groupWriter{value: fmt.Sprint("big", i), large: true, track: track})
	}
	wait := queueWriters(t, f, f.h, 2, writers)
	release()
	first(t)
	if _, errs := wait(); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	if n := kept(); n != 0 {
		t.Fatalf("after every writer was answered, %d of the %d values they sent are still reachable", n, len(sent))
	}
}
