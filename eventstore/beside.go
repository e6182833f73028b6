package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The functions below are the log's set-up and reading steps, exported for the
// packages that keep their own streams and buckets beside the log on the same
// JetStream (eventstore/natskv, eventstore/reservation, eventstore/lease,
// eventstore/changefeed): they create them the way the log's own are created, with
// the same retries while a cluster forms.

// CreateStream creates or updates a stream, retrying while a cluster that has just
// started has no JetStream meta leader yet (see createStream).
func CreateStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return createStream(ctx, js, cfg)
}

// CreateBucket creates or updates a KV bucket like CreateStream.
func CreateBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return createBucket(ctx, js, cfg)
}

// OpenBucket opens a KV bucket and its stream, creating the bucket when it is missing;
// an existing bucket keeps its configuration (replicas that start together must not
// update one bucket at once). It retries like CreateBucket, and finds bucket and
// stream in one step: on a cluster that has just formed, a bucket another replica has
// just created may not be found by its stream's name at once, which counts as not
// ready yet rather than as an answer.
func OpenBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, jetstream.Stream, error) {
	type opened struct {
		kv     jetstream.KeyValue
		stream jetstream.Stream
	}
	o, err := retrySetup(ctx, js.Conn(), func(ctx context.Context) (opened, error) {
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(ctx, cfg)
			if errors.Is(err, jetstream.ErrBucketExists) {
				// Another replica created it in between.
				kv, err = js.KeyValue(ctx, cfg.Bucket)
			}
		}
		if bucketNotVisibleYet(err) {
			return opened{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if err != nil {
			return opened{}, err
		}
		stream, err := js.Stream(ctx, "KV_"+cfg.Bucket)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return opened{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return opened{kv, stream}, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	return o.kv, o.stream, nil
}

// bucketNotVisibleYet says that a bucket (or its stream) was not found where it has
// just been created, by this replica or another: on a cluster that is forming, the
// stream another replica created may be missing from the answer that follows. When
// CreateKeyValue finds the stream in use, nats.go looks it up and may update it, and
// that update can answer "stream not found" (a replica exited at start with it in
// TestClusterFailover).
func bucketNotVisibleYet(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamNotFound)
}

// BucketStatus is kv's status for a set-up step. On a cluster that is forming, a
// bucket just created, by this replica or another, may not be found at once
// (bucketNotVisibleYet): that counts as not ready (ErrUnavailable), which RetrySetup
// tries again, rather than as an answer.
func BucketStatus(ctx context.Context, kv jetstream.KeyValue) (jetstream.KeyValueStatus, error) {
	st, err := kv.Status(ctx)
	if bucketNotVisibleYet(err) {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return st, err
}

// RetrySetup runs one idempotent set-up step until it succeeds or gets a definitive
// answer (see retrySetup).
func RetrySetup[T any](ctx context.Context, nc *nats.Conn, step func(context.Context) (T, error)) (T, error) {
	return retrySetup(ctx, nc, step)
}

// FollowOrdered runs an ordered consumer on stream and sends what convert makes of
// each message (those it declines are skipped) until ctx ends or the consumer fails;
// the channel is closed then.
func FollowOrdered[T any](ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.OrderedConsumerConfig, buffer int, convert func(jetstream.Msg) (T, bool)) (<-chan T, error) {
	return followOrdered(ctx, js, stream, cfg, buffer, convert)
}

// HasKey reports whether scope has a current data key, without creating one: a caller
// that must not bring an erased (crypto-shredded) organization's key back to life
// checks it before sealing.
func (k *Keyring) HasKey(ctx context.Context, scope string) (bool, error) {
	_, err := k.keys(ctx, scope, false)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNoKey):
		return false, nil
	}
	return false, fmt.Errorf("data key of %s: %w", scope, err)
}

// KVEntry is a bucket key's latest value and the revision (stream sequence) and time
// it was written at.
type KVEntry struct {
	Value    []byte
	Revision uint64
	Created  time.Time
}

// GetKV reads key's latest value in kv; ok is false when it has none (never written,
// deleted, purged or expired). replicas is the bucket's replication factor. A KV get
// takes a direct get whenever the bucket allows it, as every bucket does, and on a
// cluster any replica of the bucket's stream may answer one, among them a follower
// that has not applied the newest writes yet: a key another replica has just written
// reads as missing, one it has just deleted as present. So on a cluster the bucket
// stream's leader is asked, which answers from what NATS has acknowledged (see
// GetFromLeader); a single server answers every get from its own store.
func GetKV(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, replicas int, key string) (KVEntry, bool, error) {
	if replicas <= 1 {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return KVEntry{}, false, nil
		}
		if err != nil {
			return KVEntry{}, false, err
		}
		return KVEntry{Value: e.Value(), Revision: e.Revision(), Created: e.Created()}, true, nil
	}
	if !validKVKey(key) {
		return KVEntry{}, false, jetstream.ErrInvalidKey
	}
	bucket := kv.Bucket()
	m, err := rawFromLeader(ctx, js, "KV_"+bucket, MsgRequest{LastFor: "$KV." + bucket + "." + key})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return KVEntry{}, false, nil
	}
	if err != nil {
		return KVEntry{}, false, err
	}
	// A delete or purge leaves a marker with an operation header; a TTL's removal one
	// with a marker reason.
	if m.Header.Get(kvOperationHeader) != "" || m.Header.Get(jetstream.MarkerReasonHeader) != "" {
		return KVEntry{}, false, nil
	}
	return KVEntry{Value: m.Data, Revision: m.Sequence, Created: m.Time}, true, nil
}

// kvOperationHeader marks a KV delete ("DEL") or purge ("PURGE").
const kvOperationHeader = "KV-Operation"

// validKVKey is the KV key syntax (the jetstream package's): letters, digits and
// -/_=. , not starting or ending with a dot. It keeps a wildcard out of the subject
// the leader is asked about.
func validKVKey(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' {
		return false
	}
	for _, c := range key {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '/', c == '_', c == '=', c == '.':
		default:
			return false
		}
	}
	return true
}
