package natskv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/storeerr"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound means a bucket has no such key. It is storeerr's, so that consumers
// without NATS match it too.
var ErrNotFound = storeerr.ErrNotFound

// ErrExists means a bucket key was created by someone else first.
var ErrExists = errors.New("eventstore: key exists")

// Bucket is a small key-value store beside the log for state that is not history:
// sessions, remembered idempotent responses. Values are sealed with the platform key,
// so nothing readable lands in NATS.
type Bucket struct {
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	reps int
	keys *eventstore.Keyring
	name string
}

// Open opens (or creates) a KV bucket beside s's log whose entries expire after ttl
// (0: never), sealed with s's keyring.
func Open(ctx context.Context, s *eventstore.Store, name string, ttl time.Duration) (*Bucket, error) {
	kv, err := eventstore.CreateBucket(ctx, s.JetStream(), jetstream.KeyValueConfig{
		Bucket: name, History: 1, TTL: ttl, Storage: jetstream.FileStorage, Replicas: s.Replicas(),
	})
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	return &Bucket{js: s.JetStream(), kv: kv, reps: s.Replicas(), keys: s.Keyring(), name: name}, nil
}

func (b *Bucket) aad(key string) []byte { return []byte("keyledger/kv/" + b.name + "/" + key) }

// Get opens the value at key. On a cluster it reads what NATS has acknowledged (see
// eventstore.GetKV): a session created or ended on one replica is read as such on
// every other at once.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	e, ok, err := eventstore.GetKV(ctx, b.js, b.kv, b.reps, key)
	if err != nil {
		return nil, fmt.Errorf("%s get: %w", b.name, err)
	}
	if !ok {
		return nil, ErrNotFound
	}
	return b.keys.Open(ctx, domain.PlatformScope, string(e.Value), b.aad(key))
}

func (b *Bucket) seal(ctx context.Context, key string, v []byte) ([]byte, error) {
	s, err := b.keys.Seal(ctx, domain.PlatformScope, v, b.aad(key))
	return []byte(s), err
}

// Put stores value at key.
func (b *Bucket) Put(ctx context.Context, key string, value []byte) error {
	sealed, err := b.seal(ctx, key, value)
	if err != nil {
		return err
	}
	if _, err := b.kv.Put(ctx, key, sealed); err != nil {
		return fmt.Errorf("%s put: %w", b.name, err)
	}
	return nil
}

// Create stores value at key only if the key is absent; else ErrExists.
func (b *Bucket) Create(ctx context.Context, key string, value []byte) error {
	sealed, err := b.seal(ctx, key, value)
	if err != nil {
		return err
	}
	if _, err := b.kv.Create(ctx, key, sealed); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return ErrExists
		}
		return fmt.Errorf("%s create: %w", b.name, err)
	}
	return nil
}

// Delete removes key.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%s delete: %w", b.name, err)
	}
	return nil
}
