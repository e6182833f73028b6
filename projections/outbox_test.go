package projections_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/projections"
)

// brokenChanges is the change stream with faults: refuse makes every publish fail
// before anything is stored (NATS unreachable); crashAfterStore stores the notices and
// then fails, with the stream's tail unreadable too, so that the outbox cannot learn
// that they were stored: what a process that dies between the stream's acknowledgement
// and the deletion of its outbox rows leaves behind.
type brokenChanges struct {
	*changefeed.Changes
	refuse, crashAfterStore atomic.Bool
}

var errInjected = errors.New("injected fault")

func (b *brokenChanges) Tail(ctx context.Context) (uint64, changefeed.Position, error) {
	if b.refuse.Load() {
		return 0, changefeed.Position{}, errInjected
	}
	return b.Changes.Tail(ctx)
}

func (b *brokenChanges) PublishStored(ctx context.Context, after uint64, notices []changefeed.Stored) (int, uint64, error) {
	if b.refuse.Load() {
		return 0, after, errInjected
	}
	crash := b.crashAfterStore.Load()
	n, last, err := b.Changes.PublishStored(ctx, after, notices)
	if err == nil && crash {
		b.refuse.Store(true)
		return 0, after, errInjected
	}
	return n, last, err
}

func outboxRows(tb testing.TB, r *rig) int {
	tb.Helper()
	var n int
	if err := connectLive(tb, r.url).QueryRow(context.Background(), `SELECT count(*) FROM change_outbox`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func changeStreamMsgs(tb testing.TB, r *rig) uint64 {
	tb.Helper()
	st, err := r.env.Store.JetStream().Stream(context.Background(), changefeed.ChangesStream)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return info.State.Msgs
}

// openChanges opens the rig's change stream.
func openChanges(tb testing.TB, r *rig) *changefeed.Changes {
	tb.Helper()
	changes, err := changefeed.Open(context.Background(), r.env.Store)
	if err != nil {
		tb.Fatal(err)
	}
	return changes
}

// waitOutboxEmpty waits until the outbox has published everything committed so far.
func waitOutboxEmpty(tb testing.TB, r *rig) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for outboxRows(tb, r) != 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("the outbox still holds %d notices", outboxRows(tb, r))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitOutboxPublished waits until the outbox is empty and the change stream holds msgs
// notices.
func waitOutboxPublished(tb testing.TB, r *rig, msgs uint64) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for outboxRows(tb, r) != 0 || changeStreamMsgs(tb, r) != msgs {
		if time.Now().After(deadline) {
			tb.Fatalf("the outbox holds %d notices and the stream %d, want 0 and %d", outboxRows(tb, r), changeStreamMsgs(tb, r), msgs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A committed batch's change notices are never lost and never doubled, whatever fails
// between the commit and the publish: while the change stream refuses every publish,
// writes are still projected and answered (the batch does not wait for the notices);
// the notices wait in the outbox, also through a projector's stop; a publish that the
// stream stored but the projector never learned about (it died before deleting the
// rows) is not stored again; the next projector publishes the rest, once each, in
// order, and empties the outbox.
func TestChangeNoticesSurviveACrashBetweenCommitAndPublish(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	changes := openChanges(t, r)
	broken := &brokenChanges{Changes: changes}
	broken.refuse.Store(true)
	stop := r.startProjectorWith(t, projections.NewProjector(r.db, r.env.Store, nil).PublishChanges(broken))

	a := r.create(t, "OUTBOX_A", map[domain.Environment]string{domain.Production: "p-1", domain.Staging: "s-1"})
	v := domain.NewPlaintext("p-2")
	u, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: a.ID, Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v}})
	if err != nil {
		t.Fatal(err)
	}
	// Projected while no notice can be published.
	r.wait(t, u.Seq)
	if n := changeStreamMsgs(t, r); n != 0 {
		t.Fatalf("the stream holds %d notices while publishing fails", n)
	}
	if n := outboxRows(t, r); n != 3 {
		t.Fatalf("the outbox holds %d notices, want 3", n)
	}

	// The stream takes the notices, but the projector never hears so (its next
	// attempt stores them: a retry or the next batch's wake-up), and then it cannot
	// publish at all: a notice of a later batch stays unpublished.
	broken.crashAfterStore.Store(true)
	broken.refuse.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for changeStreamMsgs(t, r) < 3 || !broken.refuse.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d notices, want 3", changeStreamMsgs(t, r))
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := r.create(t, "OUTBOX_B", map[domain.Environment]string{domain.Development: "d-1"})
	r.wait(t, b.Seq)
	stop()
	if n := outboxRows(t, r); n != 4 {
		t.Fatalf("after the crash the outbox holds %d notices, want the 3 it could not delete and 1 it could not publish", n)
	}
	if n := changeStreamMsgs(t, r); n != 3 {
		t.Fatalf("after the crash the stream holds %d notices, want 3", n)
	}

	// The next projector, on a healthy stream.
	r.startProjectorWith(t, projections.NewProjector(r.db, r.env.Store, nil).PublishChanges(changes))
	c := r.create(t, "OUTBOX_C", map[domain.Environment]string{domain.Production: "c-1"})
	r.wait(t, c.Seq)
	feed, err := changes.Follow(ctx, r.orgID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, n := range collect(t, feed, 5) {
		lines = append(lines, fmt.Sprintf("%s %s %s %d.%d", n.Name, n.Type, n.Env, n.Seq, n.Part))
	}
	want := []string{
		fmt.Sprintf("OUTBOX_A secret.created staging %d.0", a.Seq), fmt.Sprintf("OUTBOX_A secret.created production %d.1", a.Seq),
		fmt.Sprintf("OUTBOX_A secret.updated production %d.0", u.Seq),
		fmt.Sprintf("OUTBOX_B secret.created development %d.0", b.Seq),
		fmt.Sprintf("OUTBOX_C secret.created production %d.0", c.Seq),
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("notices:\n got %v\nwant %v", lines, want)
	}
	waitOutboxPublished(t, r, 5)
}

// Notices committed but not yet published when a rebuild switches the read models
// over are carried to the new schema, whose outbox the publisher reads from then on.
func TestChangeOutboxMovesWithARebuild(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	changes := openChanges(t, r)
	broken := &brokenChanges{Changes: changes}
	broken.refuse.Store(true)
	r.startProjectorWith(t, projections.NewProjector(r.db, r.env.Store, nil).PublishChanges(broken))
	a := r.create(t, "MOVED_A", map[domain.Environment]string{domain.Production: "a-1"})
	r.wait(t, a.Seq)
	if _, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil); err != nil {
		t.Fatal(err)
	}
	if n := outboxRows(t, r); n != 1 {
		t.Fatalf("the rebuilt read models' outbox holds %d notices, want the 1 not published before the switch", n)
	}
	broken.refuse.Store(false)
	b := r.create(t, "MOVED_B", map[domain.Environment]string{domain.Production: "b-1"})
	r.wait(t, b.Seq)
	feed, err := changes.Follow(ctx, r.orgID, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, feed, 2)
	if got[0].Name != "MOVED_A" || got[0].Seq != a.Seq || got[1].Name != "MOVED_B" || got[1].Seq != b.Seq {
		t.Fatalf("notices %+v, want MOVED_A at %d, then MOVED_B at %d", got, a.Seq, b.Seq)
	}
}

// countingChanges counts the publisher's rounds: its calls to PublishStored.
type countingChanges struct {
	*changefeed.Changes
	rounds atomic.Int64
}

func (c *countingChanges) PublishStored(ctx context.Context, after uint64, notices []changefeed.Stored) (int, uint64, error) {
	c.rounds.Add(1)
	return c.Changes.PublishStored(ctx, after, notices)
}

// Notices committed one batch at a time in quick succession go out in a few rounds,
// not one round (and, below an atomic batch's size, one synced message) each: the
// publisher waits a moment for more after the first. 40 creates projected one after
// the other took 40 rounds before; every notice is still stored, once, in order.
func TestChangeNoticesOfABusyProjectorGoOutTogether(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	changes := openChanges(t, r)
	counting := &countingChanges{Changes: changes}
	r.startProjectorWith(t, projections.NewProjector(r.db, r.env.Store, nil).PublishChanges(counting))
	const creates = 40
	var want []string
	for i := range creates {
		name := fmt.Sprintf("TOGETHER_%02d", i)
		res := r.create(t, name, map[domain.Environment]string{domain.Production: "v"})
		r.wait(t, res.Seq)
		want = append(want, fmt.Sprintf("%s %d", name, res.Seq))
	}
	waitOutboxPublished(t, r, creates)
	if n := counting.rounds.Load(); n > creates/2 {
		t.Fatalf("%d publishing rounds for %d notices committed one by one, want at most %d", n, creates, creates/2)
	}
	feed, err := changes.Follow(ctx, r.orgID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range collect(t, feed, creates) {
		got = append(got, fmt.Sprintf("%s %d", n.Name, n.Seq))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("notices:\n got %v\nwant %v", got, want)
	}
}
