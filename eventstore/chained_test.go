package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A chained run is stored as a prefix of itself, in order: a message is stored only
// right after the one before it, so one that is refused, for whatever reason, stops
// every one after it. Expected sequences alone (after, after+1, ...) would not: a run
// that starts behind the stream by k has its first k refused and the rest stored after
// a gap, and one refused in the middle lets those after it line up again.
func TestChainedRunStoresAPrefixInOrder(t *testing.T) {
	t.Parallel()
	ctx, js, st, chain, run := newChainRig(t, "CHAIN", "chain")
	// stored says which messages the stream holds, in order.
	stored := func() string {
		t.Helper()
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(m.Data))
		}
		return fmt.Sprint(got)
	}

	acks, err := chain.Publish(ctx, 0, run(5))
	if err != nil || len(acks) != 5 || acks[4].Sequence != 5 {
		t.Fatalf("a run of 5: %d stored, %v", len(acks), err)
	}
	// Behind the stream by three.
	acks, err = chain.Publish(ctx, 2, run(5))
	if len(acks) != 0 || !eventstore.IsWrongLastSequence(err) {
		t.Errorf("a run behind the stream: %d stored, %v; want none and the refusal", len(acks), err)
	}
	// Refused in the middle: the third message names another stream.
	msgs := run(5)
	msgs[2].Header.Set(jetstream.ExpectedStreamHeader, "OTHER")
	acks, err = chain.Publish(ctx, 5, msgs)
	var apiErr *jetstream.APIError
	if len(acks) != 2 || !errors.As(err, &apiErr) || apiErr.ErrorCode != 10060 { // nats-server's JSStreamNotMatchErr
		t.Errorf("a run refused at its third message: %d stored, %v; want 2 and the refusal", len(acks), err)
	}
	if got, want := stored(), "[1 2 3 4 5 11 12]"; got != want {
		t.Fatalf("the stream holds %s, want %s", got, want)
	}
	// Another publisher got in between: the run going on from the last stored one
	// is refused whole.
	if _, err := js.Publish(ctx, "chain.other", []byte("other")); err != nil {
		t.Fatal(err)
	}
	acks, err = chain.Publish(ctx, 7, run(2))
	if len(acks) != 0 || !eventstore.IsWrongLastSequence(err) {
		t.Errorf("a run after another publisher's message: %d stored, %v", len(acks), err)
	}
	msgs = run(3)
	acks, err = chain.Publish(ctx, 8, msgs)
	if err != nil || len(acks) != 3 || acks[2].Sequence != 11 {
		t.Fatalf("a run from the tail: %d stored, %v", len(acks), err)
	}
	if got, want := stored(), "[1 2 3 4 5 11 12 other 18 19 20]"; got != want {
		t.Fatalf("the stream holds %s, want %s", got, want)
	}
	// A run whose message has no id is refused before anything goes out.
	m := nats.NewMsg("chain.noid")
	if _, err := chain.Publish(ctx, 11, []*nats.Msg{m}); !errors.Is(err, eventstore.ErrNoMsgID) {
		t.Errorf("a message without an id: %v", err)
	}
	// The refusal of a message expecting another last one is told apart.
	bad := run(1)
	bad[0].Header.Set(jetstream.ExpectedLastMsgIDHeader, "nope")
	bad[0].Reply = ""
	_, err = js.PublishMsg(ctx, bad[0])
	if !eventstore.IsWrongLastMsgID(err) {
		t.Errorf("a wrong last message id: %v", err)
	}
}

// A chained run asks for one answer, its last message's: every message before it is
// stored when that one is. One answer per message was a third of what the embedded
// server handled for a create (the event, a notice per environment, and an answer to
// each). When the run stops early, the stream is read back, and the rest is sent again
// with an answer asked for each, which names the refusal.
func TestChainedRunAsksOneAnswer(t *testing.T) {
	t.Parallel()
	ctx, js, st, chain, run := newChainRig(t, "ONE", "one")
	received := func() uint64 { return js.Conn().Stats().InMsgs }

	before := received()
	acks, err := chain.Publish(ctx, 0, run(40))
	if err != nil || len(acks) != 40 {
		t.Fatalf("a run of 40: %d stored, %v", len(acks), err)
	}
	for i, a := range acks {
		if a.Stream != "ONE" || a.Sequence != uint64(i+1) || a.Duplicate {
			t.Fatalf("acknowledgement %d: %+v", i, a)
		}
	}
	if got := received() - before; got != 1 {
		t.Errorf("a run of 40 brought %d messages back to the publisher, want its last one's answer alone", got)
	}

	// Refused at its 31st message: the stream is read back (30 stored), and the ten
	// left go again, answered one by one.
	msgs := run(40)
	msgs[30].Header.Set(jetstream.ExpectedStreamHeader, "OTHER")
	acks, err = chain.Publish(ctx, 40, msgs)
	var apiErr *jetstream.APIError
	if len(acks) != 30 || acks[29].Sequence != 70 || !errors.As(err, &apiErr) || apiErr.ErrorCode != 10060 {
		t.Fatalf("a run refused at its 31st message: %d stored, %v; want 30 and the refusal", len(acks), err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.LastSeq != 70 {
		t.Fatalf("the stream ends at %d (%v), want 70", info.State.LastSeq, err)
	}
}

// newChainRig makes a stream of its own (subjects prefix.>) on a fresh store and a
// chained publisher to it; run(n) makes the next n messages, each with its number as
// its subject's last token, its message id and its data.
func newChainRig(t *testing.T, stream, prefix string) (context.Context, jetstream.JetStream, jetstream.Stream, *eventstore.Chained, func(n int) []*nats.Msg) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	env := eventstoretest.New(t)
	js := env.Store.JetStream()
	st, err := eventstore.CreateStream(ctx, js, jetstream.StreamConfig{Name: stream, Subjects: []string{prefix + ".>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	run := func(n int) []*nats.Msg {
		msgs := make([]*nats.Msg, n)
		for i := range msgs {
			next++
			msgs[i] = nats.NewMsg(fmt.Sprintf("%s.%d", prefix, next))
			msgs[i].Header.Set(jetstream.MsgIDHeader, fmt.Sprint(next))
			msgs[i].Data = []byte(fmt.Sprint(next))
		}
		return msgs
	}
	return ctx, js, st, eventstore.NewChained(js, st), run
}
