package changefeed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const changesOrg = "33333333-3333-3333-3333-333333333333"

func changesMaxAge(tb testing.TB, js jetstream.JetStream) time.Duration {
	tb.Helper()
	st, err := js.Stream(context.Background(), changefeed.ChangesStream)
	if err != nil {
		tb.Fatal(err)
	}
	return st.CachedInfo().Config.MaxAge
}

// The change stream has a retention limit: the default on a new stream, the configured
// one when serve passes it, kept by openers that pass none, and set on a stream that
// an older version created without one.
func TestChangeStreamHasARetentionLimit(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	js := env.Store.JetStream()
	// A stream as older versions made it: no max age.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: changefeed.ChangesStream, Subjects: []string{changefeed.ChangesSubjectPrefix + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := changefeed.Open(ctx, env.Store); err != nil {
		t.Fatal(err)
	}
	if got := changesMaxAge(t, js); got != changefeed.DefaultChangesMaxAge {
		t.Fatalf("an unlimited stream was opened with max age %s, want %s", got, changefeed.DefaultChangesMaxAge)
	}
	if _, err := changefeed.Open(ctx, env.Store, changefeed.WithChangesMaxAge(36*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := changesMaxAge(t, js); got != 36*time.Hour {
		t.Fatalf("max age %s after configuring 36h", got)
	}
	// Another opener (the HTTP server) does not undo the configured limit.
	if _, err := changefeed.Open(ctx, env.Store); err != nil {
		t.Fatal(err)
	}
	if got := changesMaxAge(t, js); got != 36*time.Hour {
		t.Fatalf("max age %s after a second opener, want the configured 36h", got)
	}
	if _, err := changefeed.Open(ctx, env.Store, changefeed.WithChangesMaxAge(-time.Hour)); err == nil {
		t.Fatal("a negative max age was accepted")
	}

	fresh := eventstoretest.New(t)
	if _, err := changefeed.Open(ctx, fresh.Store); err != nil {
		t.Fatal(err)
	}
	if got := changesMaxAge(t, fresh.Store.JetStream()); got != changefeed.DefaultChangesMaxAge {
		t.Fatalf("a new stream has max age %s, want %s", got, changefeed.DefaultChangesMaxAge)
	}
}

// The stream stores a notice's name sealed, never in clear; Follow opens it, and a
// sealed name copied into another notice does not open there. What it stores is
// wire.SealedChangeNotice, the type eventstore/subscriber decodes: it decodes strictly
// (no field the wire type lacks) and every field survives.
func TestChangeNoticeNameIsSealedAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env, changes := openWithDataKey(t)
	const marker = "MARKER_NAME_7Q2"
	n := wire.ChangeNotice{Type: "secret.created", OrgID: changesOrg, SecretID: "s1", Name: marker, Env: "production",
		OldVersion: 1, NewVersion: 2, ActorID: "u1", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seq: 5, Part: 0, Parts: 1}
	if err := changes.Publish(ctx, n); err != nil {
		t.Fatal(err)
	}
	st, err := env.Store.JetStream().Stream(ctx, changefeed.ChangesStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(string(raw.Data)+" "+raw.Subject), marker) {
		t.Fatalf("the stored notice holds the name in clear: %s", raw.Data)
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Data))
	dec.DisallowUnknownFields()
	var stored wire.SealedChangeNotice
	if err := dec.Decode(&stored); err != nil {
		t.Fatalf("the stored notice %s does not decode as wire.SealedChangeNotice: %v", raw.Data, err)
	}
	want := n
	want.Name = ""
	if stored.ChangeNotice != want {
		t.Fatalf("stored %+v, want every field but the name as published: %+v", stored.ChangeNotice, want)
	}
	if stored.Name != "" || !strings.HasPrefix(stored.NameSealed, "kl2.") || stored.SecretID != "s1" || stored.Seq != 5 {
		t.Fatalf("stored notice %+v", stored)
	}

	// A sealed name moved to another event's notice of the same secret.
	moved := stored
	moved.Seq, moved.Type = 6, "secret.updated"
	data, err := json.Marshal(moved)
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: changefeed.Subject(moved.ChangeNotice), Data: data, Header: nats.Header{"Kl-Seq": []string{"6"}}}
	if _, err := env.Store.JetStream().PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}

	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	feed, err := changes.Follow(fctx, changesOrg, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Follow delivers wire.ChangeNotice, which has no field for the sealed form.
	got := []wire.ChangeNotice{<-feed, <-feed}
	if got[0].Name != marker || got[0].Seq != 5 {
		t.Fatalf("followed notice %+v, want the name opened", got[0])
	}
	if got[1].Seq != 6 || got[1].Name != "" {
		t.Fatalf("a moved sealed name opened: %+v", got[1])
	}
}

// A notice of an organization without a data key (shredded) is stored without a name,
// and publishing it does not create a key for the organization again.
func TestChangeNoticeOfShreddedOrgCreatesNoKey(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	changes, err := changefeed.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	n := wire.ChangeNotice{Type: "secret.deleted", OrgID: changesOrg, SecretID: "s1", Name: "GONE", Env: "production", Seq: 9, Parts: 1}
	if err := changes.Publish(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Store.Keyring().Open(ctx, changesOrg, "kl1.1.AAAA", nil); !errors.Is(err, eventstore.ErrNoKey) {
		t.Fatalf("open after publishing: %v, want ErrNoKey (no key created)", err)
	}
}

// A follower that resumes from a position older than the stream keeps starts at the
// oldest notice kept, not with an error.
func TestFollowFromBeforeRetentionStartsAtOldestKept(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	changes, err := changefeed.Open(ctx, env.Store, changefeed.WithChangesMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	publish := func(seq uint64) {
		t.Helper()
		n := wire.ChangeNotice{Type: "secret.updated", OrgID: changesOrg, SecretID: "s1", Env: "production", Seq: seq, Parts: 1}
		if err := changes.Publish(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	publish(1)
	publish(2)
	st, err := env.Store.JetStream().Stream(ctx, changefeed.ChangesStream)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notices never expired: %+v", info.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
	publish(3)
	publish(4)
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	feed, err := changes.Follow(fctx, changesOrg, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{3, 4} {
		select {
		case n := <-feed:
			if n.Seq != want {
				t.Fatalf("resumed at %d, want %d", n.Seq, want)
			}
		case <-fctx.Done():
			t.Fatalf("no notice %d", want)
		}
	}
}

// A projector batch's notices are stored together, in order, each once: a batch
// re-published after a restart (all of it duplicates, then new notices) stores only
// the new ones.
func TestPublishBatchStoresEachNoticeOnceInOrder(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	c, err := changefeed.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	notice := func(seq uint64) wire.ChangeNotice {
		return wire.ChangeNotice{Type: "secret.updated", OrgID: changesOrg, SecretID: changesOrg, Env: "production",
			NewVersion: int(seq), At: time.Now().UTC(), Seq: seq}
	}
	var first []wire.ChangeNotice
	for seq := range uint64(40) {
		first = append(first, notice(seq+1))
	}
	if err := c.PublishBatch(ctx, first); err != nil {
		t.Fatal(err)
	}
	again := append(first[30:], notice(41), notice(42))
	for seq := uint64(43); seq <= 70; seq++ {
		again = append(again, notice(seq))
	}
	if err := c.PublishBatch(ctx, again); err != nil {
		t.Fatal(err)
	}
	st, err := env.Store.JetStream().Stream(ctx, wire.ChangesStream)
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 70; want++ {
		raw, err := st.GetMsg(ctx, want)
		if err != nil {
			t.Fatalf("message %d: %v", want, err)
		}
		var n wire.ChangeNotice
		if err := json.Unmarshal(raw.Data, &n); err != nil {
			t.Fatal(err)
		}
		if n.Seq != want {
			t.Fatalf("message %d holds the notice of event %d", want, n.Seq)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 70 {
		t.Fatalf("the stream holds %d notices, want 70", info.State.Msgs)
	}
}

// openWithDataKey opens the change stream on a fresh store whose organization
// changesOrg has a data key, as it does once it has events, so that notices about it
// can be sealed.
func openWithDataKey(t *testing.T) (*eventstoretest.Env, *changefeed.Changes) {
	t.Helper()
	env := eventstoretest.New(t)
	ctx := context.Background()
	if _, err := env.Store.Keyring().Seal(ctx, changesOrg, []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	changes, err := changefeed.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	return env, changes
}
