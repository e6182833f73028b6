package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// With Options.SyncWrites (the embedded server's group sync), no write acknowledged
// through the store returns before a sync that followed its acknowledgement: appends
// of every kind, data keys, and what other packages write through the JetStream
// handle the store hands out (buckets, streams, publishes).
func TestEveryWriteWaitsForTheSync(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env := eventstoretest.New(t)
	key, err := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	// A second store on the test's server and connection, whose syncs are counted.
	var syncs atomic.Int64
	s, err := eventstore.Open(ctx, env.Conn, key, eventstore.Options{SyncWrites: func(ctx context.Context) error {
		syncs.Add(1)
		return env.Server.Sync(ctx)
	}})
	if err != nil {
		t.Fatal(err)
	}
	nc := env.Conn
	synced := func(what string, write func() error) {
		t.Helper()
		before := syncs.Load()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if syncs.Load() == before {
			t.Errorf("%s returned without waiting for a sync", what)
		}
	}
	agg := secretAgg("33333333-3333-3333-3333-333333333333")
	synced("a checked append", func() error {
		_, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, Position: 1, Events: []domain.Event{created("A")}})
		return err
	})
	synced("an unchecked append (audit records, coalesced)", func() error {
		_, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, Unchecked: true, Events: []domain.Event{domain.SecretRevealed{SecretID: agg.ID, Env: domain.Production, Version: 1}}})
		return err
	})
	synced("a data key", func() error {
		_, err := s.Keyring().Seal(ctx, "44444444-4444-4444-4444-444444444444", []byte("v"), []byte("aad"))
		return err
	})

	js := s.JetStream()
	var beside jetstream.Stream
	synced("a stream created through the handle, and a publish to it", func() (err error) {
		if beside, err = eventstore.CreateStream(ctx, js, jetstream.StreamConfig{Name: "BESIDE", Subjects: []string{"beside.>"}, Storage: jetstream.FileStorage, AllowAtomicPublish: true}); err != nil {
			return err
		}
		_, err = js.Publish(ctx, "beside.1", []byte("x"))
		return err
	})
	// An atomic batch's messages go out on the handle's connection, not its PublishMsg.
	synced("an atomic batch", func() error {
		msgs := []*nats.Msg{nats.NewMsg("beside.b1"), nats.NewMsg("beside.b2")}
		ack, err := eventstore.PublishMsgBatch(ctx, js, msgs)
		if err == nil && ack.BatchSize != 2 {
			err = fmt.Errorf("batch of 2 stored %d", ack.BatchSize)
		}
		return err
	})
	// A run published in turn shares one sync, after its last acknowledgement; one
	// that stops at a refused message still syncs what it stored.
	inTurn := func(expect func(prev *jetstream.PubAck) uint64, subjects ...string) ([]*jetstream.PubAck, int64, error) {
		before := syncs.Load()
		msgs := make([]*nats.Msg, len(subjects))
		for i, subj := range subjects {
			msgs[i] = nats.NewMsg(subj)
		}
		acks, err := eventstore.PublishInTurn(ctx, js, msgs, func(_ int, prev *jetstream.PubAck) ([]jetstream.PublishOpt, bool) {
			if syncs.Load() != before {
				t.Error("a run in turn synced before its last message")
			}
			if prev == nil {
				return nil, true
			}
			return []jetstream.PublishOpt{jetstream.WithExpectLastSequence(expect(prev))}, true
		})
		return acks, syncs.Load() - before, err
	}
	acks, n, err := inTurn(func(prev *jetstream.PubAck) uint64 { return prev.Sequence }, "beside.t1", "beside.t2", "beside.t3")
	if err != nil || len(acks) != 3 || n != 1 {
		t.Errorf("a run of 3 in turn: %d stored, %d syncs, %v; want 3 stored and one sync", len(acks), n, err)
	}
	acks, n, err = inTurn(func(prev *jetstream.PubAck) uint64 { return prev.Sequence + 5 }, "beside.t4", "beside.t5", "beside.t6")
	if !eventstore.IsWrongLastSequence(err) || len(acks) != 1 || n != 1 {
		t.Errorf("a run in turn refused at its second message: %d stored, %d syncs, %v; want 1 stored, one sync and the refusal", len(acks), n, err)
	}
	// So does a chained run, whose answers come back together.
	chained := func(after uint64, subjects ...string) ([]*jetstream.PubAck, int64, error) {
		before := syncs.Load()
		msgs := make([]*nats.Msg, len(subjects))
		for i, subj := range subjects {
			msgs[i] = nats.NewMsg(subj)
			msgs[i].Header.Set(jetstream.MsgIDHeader, subj)
		}
		acks, err := eventstore.NewChained(js, beside).Publish(ctx, after, msgs)
		return acks, syncs.Load() - before, err
	}
	acks, n, err = chained(acks[len(acks)-1].Sequence, "beside.c1", "beside.c2", "beside.c3")
	if err != nil || len(acks) != 3 || n != 1 {
		t.Errorf("a chained run of 3: %d stored, %d syncs, %v; want 3 stored and one sync", len(acks), n, err)
	}
	acks, n, err = chained(acks[len(acks)-1].Sequence, "beside.c4", "beside.c2", "beside.c5")
	if err != nil || len(acks) != 2 || !acks[1].Duplicate || n != 1 {
		t.Errorf("a chained run with a duplicate second: %d answered, %d syncs, %v; want 1 stored and the duplicate, one sync", len(acks), n, err)
	}
	kv, err := eventstore.CreateBucket(ctx, js, jetstream.KeyValueConfig{Bucket: "BESIDE_KV", History: 5})
	if err != nil {
		t.Fatal(err)
	}
	var rev uint64
	synced("a bucket's Create", func() (err error) { rev, err = kv.Create(ctx, "k", []byte("1")); return err })
	synced("a bucket's Update", func() (err error) { rev, err = kv.Update(ctx, "k", []byte("2"), rev); return err })
	synced("a bucket's Put", func() error { _, err := kv.Put(ctx, "k", []byte("3")); return err })
	synced("a bucket's PutString", func() error { _, err := kv.PutString(ctx, "k2", "4"); return err })
	synced("a bucket's Delete", func() error { return kv.Delete(ctx, "k") })
	synced("a bucket's Purge", func() error { return kv.Purge(ctx, "k2") })
	synced("a bucket's PurgeDeletes", func() error { return kv.PurgeDeletes(ctx) })
	synced("a bucket opened by name", func() error {
		kv, _, err := eventstore.OpenBucket(ctx, js, jetstream.KeyValueConfig{Bucket: "BESIDE_KV"})
		if err != nil {
			return err
		}
		_, err = kv.Put(ctx, "k3", []byte("5"))
		return err
	})
	synced("a stream's Purge", func() error {
		st, err := js.Stream(ctx, "BESIDE")
		if err != nil {
			return err
		}
		return st.Purge(ctx)
	})
	// An asynchronous publish's acknowledgement arrives where no sync can follow it.
	if _, err := js.PublishAsync("beside.2", []byte("x")); err == nil {
		t.Error("an asynchronous publish was accepted where writes wait for a sync")
	}
	// The log up to an appended event is on disk when its append returns: a reader of
	// it (the projector) has nothing to wait for. A message that no sync followed (its
	// writer bypassed the store, or crashed between its acknowledgement and its sync)
	// is synced by the reader.
	appended, err := s.Append(ctx, eventstore.Pending{Aggregate: secretAgg("55555555-5555-5555-5555-555555555555"), Position: 1, Events: []domain.Event{created("C")}})
	if err != nil {
		t.Fatal(err)
	}
	before := syncs.Load()
	if err := s.Durable(ctx, appended.Seq()); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() != before {
		t.Error("Durable synced again up to an append that had synced")
	}
	raw, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	bare, err := raw.Publish(ctx, eventstore.SubjectPrefix+".bypass.x.y", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Durable(ctx, bare.Sequence); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() == before {
		t.Error("Durable did not sync up to a message no sync followed")
	}
	// A run in turn to the log moves how far it is known to be on disk too.
	acks, err = eventstore.PublishInTurn(ctx, js, []*nats.Msg{nats.NewMsg(eventstore.SubjectPrefix + ".inturn.x.y")},
		func(int, *jetstream.PubAck) ([]jetstream.PublishOpt, bool) { return nil, true })
	if err != nil || len(acks) != 1 {
		t.Fatalf("a run in turn to the log: %v, %v", acks, err)
	}
	before = syncs.Load()
	if err := s.Durable(ctx, acks[0].Sequence); err != nil {
		t.Fatal(err)
	}
	if syncs.Load() != before {
		t.Error("Durable synced again up to a run in turn that had synced")
	}

	// A failed write does not wait: it counts for nothing.
	before = syncs.Load()
	if _, err := s.Append(ctx, eventstore.Pending{Aggregate: agg, Position: 1, Events: []domain.Event{created("A")}}); !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("second create: %v, want a version conflict", err)
	}
	if syncs.Load() != before {
		t.Error("a refused append waited for a sync")
	}
}
