package eventstore

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Writes that wait for the caller's sync (Options.SyncWrites; the embedded server's
// group sync, eventstore/embedded/sync.go). The store's JetStream handle, which every
// package that keeps a stream or bucket beside the log gets from Store.JetStream, is
// wrapped so that each write acknowledged through it, through a bucket or a stream it
// hands out, returns only once the sync after its acknowledgement is done: no write
// counts (is answered, projected, relied on) before it is on disk, whichever package
// made it.

// PublishMsgBatch publishes msgs as one JetStream atomic batch (jetstreamext) through
// js, the store's handle: like every write through it, it returns once the batch is on
// disk. jetstreamext sends a batch's messages on the handle's connection, past its
// PublishMsg, so the batch is synced here.
func PublishMsgBatch(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg, opts ...jetstreamext.PublishMsgBatchOpt) (*jetstreamext.BatchAck, error) {
	ack, err := jetstreamext.PublishMsgBatch(ctx, js, msgs, opts...)
	if j, ok := js.(syncedJetStream); ok {
		return after(ctx, j.sync, ack, err)
	}
	return ack, err
}

// errUnsyncedAsync refuses asynchronous publishes where writes are synced by the
// caller: their acknowledgements arrive where no sync can follow them.
var errUnsyncedAsync = errors.New("eventstore: asynchronous publishes are not supported when the store syncs writes itself")

// syncedJetStream is a JetStream handle whose writes wait for sync.
type syncedJetStream struct {
	jetstream.JetStream
	sync func(context.Context) error
	// logOnDisk is the highest sequence of the log a sync after its acknowledgement has
	// put on disk, and with it every message before it (a stream stores its messages
	// in order, each before it is acknowledged).
	logOnDisk *atomic.Uint64
}

// synced wraps js when sync is set; logOnDisk then follows the log's syncs.
func synced(js jetstream.JetStream, sync func(context.Context) error, logOnDisk *atomic.Uint64) jetstream.JetStream {
	if sync == nil {
		return js
	}
	return syncedJetStream{JetStream: js, sync: sync, logOnDisk: logOnDisk}
}

// published returns ack once the write it acknowledges is on disk.
func (j syncedJetStream) published(ctx context.Context, ack *jetstream.PubAck, err error) (*jetstream.PubAck, error) {
	if ack, err = after(ctx, j.sync, ack, err); err != nil {
		return nil, err
	}
	if ack != nil && ack.Stream == StreamName {
		for {
			cur := j.logOnDisk.Load()
			if ack.Sequence <= cur || j.logOnDisk.CompareAndSwap(cur, ack.Sequence) {
				break
			}
		}
	}
	return ack, nil
}

// after returns v once the write it was acknowledged for is synced.
func after[T any](ctx context.Context, sync func(context.Context) error, v T, err error) (T, error) {
	if err != nil {
		return v, err
	}
	if err := sync(ctx); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

func (j syncedJetStream) Publish(ctx context.Context, subject string, payload []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := j.JetStream.Publish(ctx, subject, payload, opts...)
	return j.published(ctx, ack, err)
}

func (j syncedJetStream) PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	ack, err := j.JetStream.PublishMsg(ctx, msg, opts...)
	return j.published(ctx, ack, err)
}

func (j syncedJetStream) PublishAsync(string, []byte, ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	return nil, errUnsyncedAsync
}

func (j syncedJetStream) PublishMsgAsync(*nats.Msg, ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	return nil, errUnsyncedAsync
}

func (j syncedJetStream) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return j.stream(j.JetStream.CreateStream(ctx, cfg))
}

func (j syncedJetStream) UpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return j.stream(j.JetStream.UpdateStream(ctx, cfg))
}

func (j syncedJetStream) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return j.stream(j.JetStream.CreateOrUpdateStream(ctx, cfg))
}

func (j syncedJetStream) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	return j.stream(j.JetStream.Stream(ctx, name))
}

func (j syncedJetStream) stream(st jetstream.Stream, err error) (jetstream.Stream, error) {
	if err != nil {
		return st, err
	}
	return syncedStream{Stream: st, sync: j.sync}, nil
}

func (j syncedJetStream) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	return j.bucket(j.JetStream.KeyValue(ctx, bucket))
}

func (j syncedJetStream) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return j.bucket(j.JetStream.CreateKeyValue(ctx, cfg))
}

func (j syncedJetStream) UpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return j.bucket(j.JetStream.UpdateKeyValue(ctx, cfg))
}

func (j syncedJetStream) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return j.bucket(j.JetStream.CreateOrUpdateKeyValue(ctx, cfg))
}

func (j syncedJetStream) bucket(kv jetstream.KeyValue, err error) (jetstream.KeyValue, error) {
	if err != nil {
		return kv, err
	}
	return syncedKV{KeyValue: kv, sync: j.sync}, nil
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

// syncedKV is a bucket whose writes wait for sync.
type syncedKV struct {
	jetstream.KeyValue
	sync func(context.Context) error
}

func (b syncedKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := b.KeyValue.Put(ctx, key, value)
	return after(ctx, b.sync, rev, err)
}

func (b syncedKV) PutString(ctx context.Context, key string, value string) (uint64, error) {
	rev, err := b.KeyValue.PutString(ctx, key, value)
	return after(ctx, b.sync, rev, err)
}

func (b syncedKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	rev, err := b.KeyValue.Create(ctx, key, value, opts...)
	return after(ctx, b.sync, rev, err)
}

func (b syncedKV) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	rev, err := b.KeyValue.Update(ctx, key, value, revision)
	return after(ctx, b.sync, rev, err)
}

func (b syncedKV) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	_, err := after(ctx, b.sync, struct{}{}, b.KeyValue.Delete(ctx, key, opts...))
	return err
}

func (b syncedKV) Purge(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	_, err := after(ctx, b.sync, struct{}{}, b.KeyValue.Purge(ctx, key, opts...))
	return err
}

func (b syncedKV) PurgeDeletes(ctx context.Context, opts ...jetstream.KVPurgeOpt) error {
	_, err := after(ctx, b.sync, struct{}{}, b.KeyValue.PurgeDeletes(ctx, opts...))
	return err
}
