package eventstore

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// The store's writes. The store's JetStream handle, which every package that keeps a
// stream or bucket beside the log gets from Store.JetStream, is wrapped so that each
// write through it, through a bucket or a stream it hands out, whichever package makes
// it:
//   - is sent again while its subject is busy (a conditional write on a cluster,
//     retryBusy), instead of counting as a lost race;
//   - with Options.SyncWrites (the embedded server's group sync,
//     eventstore/embedded/sync.go), returns only once the sync after its
//     acknowledgement is done: no write counts (is answered, projected, relied on)
//     before it is on disk.

// PublishMsgBatch publishes msgs as one JetStream atomic batch (jetstreamext) through
// js, the store's handle: like every write through it, it returns once the batch is on
// disk. jetstreamext sends a batch's messages on the handle's connection, past its
// PublishMsg, so the batch is synced here.
func PublishMsgBatch(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg, opts ...jetstreamext.PublishMsgBatchOpt) (*jetstreamext.BatchAck, error) {
	ack, err := jetstreamext.PublishMsgBatch(ctx, js, msgs, opts...)
	j, ok := js.(storeJetStream)
	if !ok || err != nil {
		return ack, err
	}
	if err := j.synced(ctx, ack.Stream, ack.Sequence); err != nil {
		return nil, err
	}
	return ack, nil
}

// PublishInTurn publishes msgs through js, the store's handle, one after another: next
// gives each message's options from the acknowledgement of the one before it (nil for
// the first), and stops the run by answering false. It returns the acknowledgements of
// the messages stored, in order, and the error of the first one that was not; like
// every write through the handle, only once they are on disk. Where the store syncs
// its writes itself, the run shares one sync after its last message instead of one
// per message: a run of change notices costs one wait for the disk, where an atomic
// batch had the server stage the run in a store of its own first.
func PublishInTurn(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg, next func(i int, prev *jetstream.PubAck) ([]jetstream.PublishOpt, bool)) ([]*jetstream.PubAck, error) {
	j, ok := js.(storeJetStream)
	if !ok || j.sync == nil {
		return publishInTurn(ctx, js, msgs, next)
	}
	acks, err := publishInTurn(ctx, unsynced{j}, msgs, next)
	if serr := syncRun(ctx, j, acks); serr != nil {
		return nil, serr
	}
	return acks, err
}

// syncRun returns once the run of writes that acks acknowledge, published through js
// without their syncs, is on disk: one sync after the last of them, where js is the
// store's handle and the store syncs its writes itself (at once otherwise, or for no
// acknowledgement at all).
func syncRun(ctx context.Context, js jetstream.JetStream, acks []*jetstream.PubAck) error {
	j, ok := js.(storeJetStream)
	if !ok || len(acks) == 0 {
		return nil
	}
	last := acks[len(acks)-1]
	return j.synced(ctx, last.Stream, last.Sequence)
}

func publishInTurn(ctx context.Context, js msgPublisher, msgs []*nats.Msg, next func(int, *jetstream.PubAck) ([]jetstream.PublishOpt, bool)) ([]*jetstream.PubAck, error) {
	acks := make([]*jetstream.PubAck, 0, len(msgs))
	var prev *jetstream.PubAck
	for i, m := range msgs {
		opts, more := next(i, prev)
		if !more {
			break
		}
		ack, err := js.PublishMsg(ctx, m, opts...)
		if err != nil {
			return acks, err
		}
		acks = append(acks, ack)
		prev = ack
	}
	return acks, nil
}

// msgPublisher is the part of a JetStream handle that publishInTurn uses.
type msgPublisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// unsynced publishes through the store's handle without its sync, for a caller that
// syncs once after many publishes (PublishInTurn). The busy-subject retry stays.
type unsynced struct{ j storeJetStream }

func (u unsynced) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return retryBusy(ctx, func() (*jetstream.PubAck, error) { return u.j.JetStream.PublishMsg(ctx, msg, opts...) })
}

// errUnsyncedAsync refuses asynchronous publishes where writes are synced by the
// caller: their acknowledgements arrive where no sync can follow them.
var errUnsyncedAsync = errors.New("eventstore: asynchronous publishes are not supported when the store syncs writes itself")

// storeJetStream is the store's JetStream handle.
type storeJetStream struct {
	jetstream.JetStream
	// sync is Options.SyncWrites: nil when the server syncs each write itself.
	sync func(context.Context) error
	// logOnDisk follows the syncs of the log's appends.
	logOnDisk *diskMark
}

// published returns ack once the write it acknowledges is on disk.
func (j storeJetStream) published(ctx context.Context, ack *jetstream.PubAck, err error) (*jetstream.PubAck, error) {
	if err != nil {
		return nil, err
	}
	if err := j.synced(ctx, ack.Stream, ack.Sequence); err != nil {
		return nil, err
	}
	return ack, nil
}

// synced returns once the writes acknowledged up to seq of stream are on disk: at once
// when the server syncs each write itself, else after a sync. A sync after the log's
// acknowledgement moves how far the log is known to be on disk (diskMark), whichever
// kind of publish it follows.
func (j storeJetStream) synced(ctx context.Context, stream string, seq uint64) error {
	if j.sync == nil {
		return nil
	}
	if stream != StreamName {
		return j.sync(ctx)
	}
	j.logOnDisk.syncing(seq)
	err := j.sync(ctx)
	j.logOnDisk.synced(seq, err)
	return err
}

// after returns v once the write it was acknowledged for is synced (at once with no
// sync to wait for).
func after[T any](ctx context.Context, sync func(context.Context) error, v T, err error) (T, error) {
	if err != nil || sync == nil {
		return v, err
	}
	if err := sync(ctx); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

func (j storeJetStream) Publish(ctx context.Context, subject string, payload []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return j.onDisk(ctx, func() (*jetstream.PubAck, error) { return j.JetStream.Publish(ctx, subject, payload, opts...) })
}

func (j storeJetStream) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return j.onDisk(ctx, func() (*jetstream.PubAck, error) { return j.JetStream.PublishMsg(ctx, msg, opts...) })
}

// onDisk runs publish, again while its subject is busy (retryBusy), and returns its
// acknowledgement once the message is on disk (published).
func (j storeJetStream) onDisk(ctx context.Context, publish func() (*jetstream.PubAck, error)) (*jetstream.PubAck, error) {
	ack, err := retryBusy(ctx, publish)
	return j.published(ctx, ack, err)
}

// publishLog publishes one of the log's messages (publishLogMsg), as PublishMsg does:
// sent again while its subject is busy, returned once on disk. It expects the log's
// stream; the caller's headers say what else the stream checks (a message id, the
// subject's last sequence).
func (j storeJetStream) publishLog(ctx context.Context, msg *nats.Msg) (*jetstream.PubAck, error) {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	msg.Header.Set(jetstream.ExpectedStreamHeader, StreamName)
	return j.onDisk(ctx, func() (*jetstream.PubAck, error) { return publishLogMsg(ctx, j.Conn(), msg) })
}

func (j storeJetStream) PublishAsync(subject string, payload []byte, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if j.sync != nil {
		return nil, errUnsyncedAsync
	}
	return j.JetStream.PublishAsync(subject, payload, opts...)
}

func (j storeJetStream) PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if j.sync != nil {
		return nil, errUnsyncedAsync
	}
	return j.JetStream.PublishMsgAsync(msg, opts...)
}

func (j storeJetStream) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return j.stream(j.JetStream.CreateStream(ctx, cfg))
}

func (j storeJetStream) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return j.stream(j.JetStream.UpdateStream(ctx, cfg))
}

func (j storeJetStream) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return j.stream(j.JetStream.CreateOrUpdateStream(ctx, cfg))
}

func (j storeJetStream) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	return j.stream(j.JetStream.Stream(ctx, name))
}

func (j storeJetStream) stream(st jetstream.Stream, err error) (jetstream.Stream, error) {
	if err != nil || j.sync == nil {
		return st, err
	}
	return syncedStream{Stream: st, sync: j.sync}, nil
}

func (j storeJetStream) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	return j.bucket(j.JetStream.KeyValue(ctx, bucket))
}

func (j storeJetStream) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return j.bucket(j.JetStream.CreateKeyValue(ctx, cfg))
}

func (j storeJetStream) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return j.bucket(j.JetStream.UpdateKeyValue(ctx, cfg))
}

func (j storeJetStream) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return j.bucket(j.JetStream.CreateOrUpdateKeyValue(ctx, cfg))
}

func (j storeJetStream) bucket(kv jetstream.KeyValue, err error) (jetstream.KeyValue, error) {
	if err != nil {
		return kv, err
	}
	return storeKV{KeyValue: kv, sync: j.sync}, nil
}

// syncedStream is a stream whose purges and deletions wait for sync.
type syncedStream struct {
	jetstream.Stream
	sync func(context.Context) error
}

func (s syncedStream) Purge(ctx context.Context, opts ...jetstream.StreamPurgeOpt) error {
	_, err := after(ctx, s.sync, struct{}{}, s.Stream.Purge(ctx, opts...))
	return err
}

func (s syncedStream) DeleteMsg(ctx context.Context, seq uint64) error {
	_, err := after(ctx, s.sync, struct{}{}, s.Stream.DeleteMsg(ctx, seq))
	return err
}

func (s syncedStream) SecureDeleteMsg(ctx context.Context, seq uint64) error {
	_, err := after(ctx, s.sync, struct{}{}, s.Stream.SecureDeleteMsg(ctx, seq))
	return err
}

// storeKV is a bucket of the store's: its conditional writes (Create, Update, and
// Delete or Purge with a last revision) are sent again while their key is busy
// (retryBusy), and every write waits for sync.
type storeKV struct {
	jetstream.KeyValue
	sync func(context.Context) error
}

func (b storeKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := b.KeyValue.Put(ctx, key, value)
	return after(ctx, b.sync, rev, err)
}

func (b storeKV) PutString(ctx context.Context, key string, value string) (uint64, error) {
	rev, err := b.KeyValue.PutString(ctx, key, value)
	return after(ctx, b.sync, rev, err)
}

func (b storeKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	rev, err := retryBusy(ctx, func() (uint64, error) { return b.KeyValue.Create(ctx, key, value, opts...) })
	return after(ctx, b.sync, rev, err)
}

func (b storeKV) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	rev, err := retryBusy(ctx, func() (uint64, error) { return b.KeyValue.Update(ctx, key, value, revision) })
	return after(ctx, b.sync, rev, err)
}

func (b storeKV) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	_, err := retryBusy(ctx, func() (struct{}, error) { return struct{}{}, b.KeyValue.Delete(ctx, key, opts...) })
	_, err = after(ctx, b.sync, struct{}{}, err)
	return err
}

func (b storeKV) Purge(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	_, err := retryBusy(ctx, func() (struct{}, error) { return struct{}{}, b.KeyValue.Purge(ctx, key, opts...) })
	_, err = after(ctx, b.sync, struct{}{}, err)
	return err
}

func (b storeKV) PurgeDeletes(ctx context.Context, opts ...jetstream.KVPurgeOpt) error {
	_, err := after(ctx, b.sync, struct{}{}, b.KeyValue.PurgeDeletes(ctx, opts...))
	return err
}
