package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LeasesBucket holds leases: which replica runs a singleton job (the projector).
const LeasesBucket = "KEYLEDGER_LEASES"

// ErrLeaseLost means another holder has the lease now.
var ErrLeaseLost = errors.New("eventstore: lease lost")

// Lease is a named, expiring claim in NATS KV: whoever creates the key holds it, and
// keeps it by rewriting it (at the revision it last wrote) before the bucket's TTL
// lets it expire. A holder that stops renewing loses it within the TTL.
type Lease struct {
	kv     jetstream.KeyValue
	name   string
	holder string

	mu  sync.Mutex // guards rev: renewals and the release may come from different goroutines
	rev uint64
}

// Lease opens the lease name for holder; entries expire ttl after their last renewal.
func (s *Store) Lease(ctx context.Context, name, holder string, ttl time.Duration) (*Lease, error) {
	kv, err := createBucket(ctx, s.js, jetstream.KeyValueConfig{
		Bucket: LeasesBucket, History: 1, TTL: ttl, Storage: jetstream.FileStorage, Replicas: s.reps,
	})
	if err != nil {
		return nil, fmt.Errorf("leases bucket: %w", err)
	}
	return &Lease{kv: kv, name: name, holder: holder}, nil
}

// TryAcquire takes the lease if nobody holds it, and reports whether this holder has it.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	rev, err := l.kv.Create(ctx, l.name, []byte(l.holder))
	if err == nil {
		l.setRev(rev)
		return true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, fmt.Errorf("acquire lease %s: %w", l.name, err)
	}
	e, err := l.kv.Get(ctx, l.name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil // expired in between: the next try may win it
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", l.name, err)
	}
	if string(e.Value()) != l.holder {
		return false, nil
	}
	l.setRev(e.Revision())
	return true, l.Renew(ctx)
}

// Renew keeps the lease; ErrLeaseLost when someone else has taken it since.
func (l *Lease) Renew(ctx context.Context) error {
	rev, err := l.kv.Update(ctx, l.name, []byte(l.holder), l.revision())
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) {
			return ErrLeaseLost
		}
		return fmt.Errorf("renew lease %s: %w", l.name, err)
	}
	l.setRev(rev)
	return nil
}

// Release gives the lease up at once, if this holder still has it.
func (l *Lease) Release(ctx context.Context) error {
	err := l.kv.Delete(ctx, l.name, jetstream.LastRevision(l.revision()))
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("release lease %s: %w", l.name, err)
	}
	return nil
}

// TakeOver makes this holder the lease's holder at once, whoever holds it now. Only a
// process that knows no other holder can be alive may call it: one whose embedded NATS
// holds its data dir's lock, where an entry of another holder is a previous life of
// this process (killed before it could release) and will never be renewed. Replicas
// sharing an external NATS must use TryAcquire and wait for the TTL instead.
func (l *Lease) TakeOver(ctx context.Context) error {
	rev, err := l.kv.Put(ctx, l.name, []byte(l.holder))
	if err != nil {
		return fmt.Errorf("take over lease %s: %w", l.name, err)
	}
	l.setRev(rev)
	return nil
}

func (l *Lease) revision() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev
}

func (l *Lease) setRev(rev uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev = rev
}
