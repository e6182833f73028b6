package changefeed_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/nats-io/nats.go/jetstream"
)

// Stored notices go on the stream in order and without a gap, whatever fails: each
// expects the stream's last sequence to be the one before it, so a publish after a
// stale sequence stores nothing, and a notice that is not stored (here a duplicate of
// one stored before, which the stream answers without storing) stops every one after
// it. Tail then says where the stream ends, and the publisher goes on from there.
func TestPublishStoredKeepsTheFeedInOrder(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	c, err := changefeed.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	notice := func(seq uint64) changefeed.Stored {
		t.Helper()
		s, err := c.Seal(ctx, wire.ChangeNotice{Type: "secret.updated", OrgID: changesOrg, SecretID: changesOrg, Env: "production",
			NewVersion: int(seq), At: time.Now().UTC(), Seq: seq, Parts: 1})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tail := func() (uint64, changefeed.Position) {
		t.Helper()
		seq, pos, err := c.Tail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return seq, pos
	}
	if seq, pos := tail(); seq != 0 || pos != (changefeed.Position{}) {
		t.Fatalf("an empty stream's tail: %d %+v", seq, pos)
	}
	n, last, err := c.PublishStored(ctx, 0, []changefeed.Stored{notice(1), notice(2), notice(3)})
	if err != nil || n != 3 || last != 3 {
		t.Fatalf("published %d up to %d: %v", n, last, err)
	}
	if seq, pos := tail(); seq != 3 || pos != (changefeed.Position{Seq: 3}) {
		t.Fatalf("tail %d %+v, want 3 at notice 3", seq, pos)
	}

	// Behind the stream by two: no later notice may line up with the stream's
	// sequence and be stored after a gap.
	n, _, err = c.PublishStored(ctx, 1, []changefeed.Stored{notice(4), notice(5), notice(6), notice(7)})
	if n != 0 || !errors.Is(err, changefeed.ErrOutOfTurn) {
		t.Fatalf("after a stale sequence: %d stored, %v; want none and ErrOutOfTurn", n, err)
	}
	n, _, err = c.PublishStored(ctx, 3, []changefeed.Stored{notice(4), notice(2), notice(5)})
	if n != 2 || !errors.Is(err, changefeed.ErrOutOfTurn) {
		t.Fatalf("with a duplicate in the middle: %d stored, %v; want 2 (the duplicate's first copy counts) and ErrOutOfTurn", n, err)
	}
	seq, pos := tail()
	if seq != 4 || pos != (changefeed.Position{Seq: 4}) {
		t.Fatalf("tail %d %+v, want 4 at notice 4", seq, pos)
	}
	if n, _, err := c.PublishStored(ctx, seq, []changefeed.Stored{notice(5)}); err != nil || n != 1 {
		t.Fatalf("going on from the tail: %d, %v", n, err)
	}
	// Many at once go as an atomic batch, under the same expectation: after a stale
	// sequence none of them is stored.
	var many []changefeed.Stored
	for seq := uint64(6); seq < 6+40; seq++ {
		many = append(many, notice(seq))
	}
	if n, _, err := c.PublishStored(ctx, 4, many); n != 0 || !errors.Is(err, changefeed.ErrOutOfTurn) {
		t.Fatalf("a batch after a stale sequence: %d stored, %v; want none and ErrOutOfTurn", n, err)
	}
	if n, last, err := c.PublishStored(ctx, 5, many); err != nil || n != 40 || last != 45 {
		t.Fatalf("a batch from the tail: %d stored up to %d, %v", n, last, err)
	}
	st, err := env.Store.JetStream().Stream(ctx, wire.ChangesStream)
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 45; want++ {
		raw, err := st.GetMsg(ctx, want)
		if err != nil {
			t.Fatalf("message %d: %v", want, err)
		}
		var n wire.ChangeNotice
		if err := json.Unmarshal(raw.Data, &n); err != nil {
			t.Fatal(err)
		}
		if n.Seq != want || raw.Header.Get(jetstream.MsgIDHeader) == "" {
			t.Fatalf("message %d holds the notice of event %d (headers %v)", want, n.Seq, raw.Header)
		}
	}
	if _, err := st.GetMsg(ctx, 46); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("a 46th message: %v", err)
	}
}

// Several writers' changes of one environment recorded in one message of the log
// (group commit) are one notice each, told apart by their part: every one is stored.
// With ids made of the event's sequence and environment alone, the second was taken
// for a duplicate of the first and lost.
func TestNoticesOfOneMessageAreStoredEach(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	c, err := changefeed.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	var notices []changefeed.Stored
	for part := range 3 {
		s, err := c.Seal(ctx, wire.ChangeNotice{Type: "secret.updated", OrgID: changesOrg, SecretID: changesOrg, Env: "production",
			NewVersion: part + 2, At: time.Now().UTC(), Seq: 10, Part: part, Parts: 3})
		if err != nil {
			t.Fatal(err)
		}
		notices = append(notices, s)
	}
	if n, last, err := c.PublishStored(ctx, 0, notices); err != nil || n != 3 || last != 3 {
		t.Fatalf("published %d up to %d: %v; want all 3", n, last, err)
	}
	if _, pos, err := c.Tail(ctx); err != nil || pos != (changefeed.Position{Seq: 10, Part: 2}) {
		t.Fatalf("tail at %+v (%v), want the third part", pos, err)
	}
}

// The change stream remembers message ids for a short window only: the server keeps
// each id of the window in memory, and the feed's order rests on expected sequences
// and the stream's tail, not on the ids.
func TestChangeStreamKeepsMessageIDsBriefly(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	if _, err := changefeed.Open(ctx, env.Store); err != nil {
		t.Fatal(err)
	}
	st, err := env.Store.JetStream().Stream(ctx, wire.ChangesStream)
	if err != nil {
		t.Fatal(err)
	}
	if d := st.CachedInfo().Config.Duplicates; d > 2*time.Second {
		t.Fatalf("the change stream keeps message ids for %s, want at most 2s", d)
	}
}
