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

// SealRun seals a name once for the notices of one event about one secret (its AAD
// binds the organization, the secret and the event's sequence, which they share), and
// again for another event, another secret or another name; every stored notice opens
// to its own name when followed.
func TestSealRunSealsANameOncePerEventAndSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, c := openWithDataKey(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	notice := func(seq uint64, part int, secret, name, env string) wire.ChangeNotice {
		return wire.ChangeNotice{Type: "secret.created", OrgID: changesOrg, SecretID: secret, Name: name, Env: env,
			NewVersion: 1, ActorID: "u1", At: at, Seq: seq, Part: part, Parts: 3}
	}
	run := []wire.ChangeNotice{
		notice(7, 0, "s1", "ONE", "development"), notice(7, 1, "s1", "ONE", "staging"), notice(7, 2, "s1", "ONE", "production"),
		notice(8, 0, "s1", "ONE", "production"),                                            // another event of the secret
		notice(9, 0, "s2", "TWO", "production"), notice(9, 1, "s3", "THREE", "production"), // one event, two secrets
	}
	stored, err := c.SealRun(ctx, run)
	if err != nil || len(stored) != len(run) {
		t.Fatalf("sealed %d of %d: %v", len(stored), len(run), err)
	}
	sealedNames := make([]string, len(stored))
	for i, s := range stored {
		var n wire.SealedChangeNotice
		if err := json.Unmarshal(s.Data, &n); err != nil {
			t.Fatal(err)
		}
		want := run[i]
		want.Name = ""
		if n.ChangeNotice != want || n.NameSealed == "" || s.Seq != want.Seq || s.Part != want.Part || s.Env != want.Env || s.OrgID != changesOrg {
			t.Fatalf("stored notice %d: %+v %+v, want %+v with its name sealed", i, s, n, want)
		}
		sealedNames[i] = n.NameSealed
	}
	if sealedNames[0] != sealedNames[1] || sealedNames[1] != sealedNames[2] {
		t.Error("the three environments of one event were sealed apart")
	}
	for i := 3; i < len(sealedNames); i++ {
		for j := range i {
			if i != j && sealedNames[i] == sealedNames[j] {
				t.Errorf("notices %d and %d (another event, secret or name) share a sealed name", i, j)
			}
		}
	}
	n, _, err := c.PublishStored(ctx, 0, stored)
	if err != nil || n != len(stored) {
		t.Fatalf("published %d: %v", n, err)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	feed, err := c.Follow(fctx, changesOrg, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range run {
		got := <-feed
		if got != run[i] {
			t.Fatalf("followed %+v, want %+v", got, run[i])
		}
	}
}
