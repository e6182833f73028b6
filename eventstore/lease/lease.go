package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/nats-io/nats.go/jetstream"
)

// LeasesBucket holds leases: which replica runs a singleton job (the projector).
const LeasesBucket = "KEYLEDGER_LEASES"

// ErrLeaseLost means another holder has the lease now.
var ErrLeaseLost = errors.New("eventstore: lease lost")

// Lease is a named, expiring claim in NATS KV: whoever creates the key holds it, and
// keeps it by rewriting it (at the revision it last wrote) before the bucket's TTL
// lets it expire. A holder that stops renewing loses it within the TTL.
//
// Revisions are the KV stream's sequences, so they only grow: every write of the key,
// by any holder, gets a revision above all earlier ones, even after the entry expired.
// A holder's revision therefore orders its tenure against every other holder's, which
// makes it a fencing token for whatever the holder writes elsewhere (see Status).
type Lease struct {
	kv     jetstream.KeyValue
	name   string
	holder string
	ttl    time.Duration

	mu  sync.Mutex // guards the fields below: renewals, releases and readers run on different goroutines
	rev uint64
	// held is whether this holder's last write or read of the key found it its own.
	held bool
	// seenHolder and seenRev are the key's holder and revision when last written or
	// read (empty and 0: nobody held it), seenAt when that revision was first seen here.
	seenHolder string
	seenRev    uint64
	seenAt     time.Time
}

// LeaseStatus is what a lease's holder last knew of it, for logs and metrics.
type LeaseStatus struct {
	// Holder is who holds the lease as last seen; "" when nobody did.
	Holder string
	// Held is whether this process holds it: it wrote the key last, and less than
	// the TTL ago. A holder whose renewals fail stops counting itself after the TTL,
	// when another replica may have taken it.
	Held bool
	// Revision is the key's revision as last seen; 0 when nobody held it.
	Revision uint64
	// RenewedAt is when this process first saw that revision (wrote or read it): the
	// lease's age is the time since. It is this process's clock, not the server's, so
	// a clock skew between replicas does not show as an old or young lease.
	RenewedAt time.Time
}

// Open opens the lease name for holder, in the leases bucket beside s's log; entries
// expire ttl after their last renewal.
func Open(ctx context.Context, s *eventstore.Store, name, holder string, ttl time.Duration) (*Lease, error) {
	kv, err := eventstore.CreateBucket(ctx, s.JetStream(), jetstream.KeyValueConfig{
		Bucket: LeasesBucket, History: 1, TTL: ttl, Storage: jetstream.FileStorage, Replicas: s.Replicas(),
	})
	if err != nil {
		return nil, fmt.Errorf("leases bucket: %w", err)
	}
	return &Lease{kv: kv, name: name, holder: holder, ttl: ttl}, nil
}

// TryAcquire takes the lease if nobody holds it, and reports whether this holder has it.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	rev, err := l.kv.Create(ctx, l.name, []byte(l.holder))
	if err == nil {
		l.wrote(rev)
		return true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return false, fmt.Errorf("acquire lease %s: %w", l.name, err)
	}
	e, err := l.kv.Get(ctx, l.name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		l.saw("", 0)
		return false, nil // expired in between: the next try may win it
	}
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", l.name, err)
	}
	if string(e.Value()) != l.holder {
		l.saw(string(e.Value()), e.Revision())
		return false, nil
	}
	// The entry is this holder's own, from before a renewal failed: take it back at
	// its revision, which no other holder can have written since.
	l.wrote(e.Revision())
	if err := l.Renew(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Renew keeps the lease; ErrLeaseLost when someone else has taken it since.
func (l *Lease) Renew(ctx context.Context) error {
	rev, err := l.kv.Update(ctx, l.name, []byte(l.holder), l.revision())
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
			l.lost()
			return ErrLeaseLost
		}
		return fmt.Errorf("renew lease %s: %w", l.name, err)
	}
	l.wrote(rev)
	return nil
}

// Release gives the lease up at once, if this holder still has it.
func (l *Lease) Release(ctx context.Context) error {
	err := l.kv.Delete(ctx, l.name, jetstream.LastRevision(l.revision()))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("release lease %s: %w", l.name, err)
	}
	l.lost()
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
	l.wrote(rev)
	return nil
}

// Holder is the name this lease holds under.
func (l *Lease) Holder() string { return l.holder }

// TTL is how long the lease lasts after its last renewal.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Status is what this process last knew of the lease. Its Revision, read right after
// TryAcquire said the lease is held, is a fencing token: any later holder's revisions
// are higher.
func (l *Lease) Status() LeaseStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LeaseStatus{
		Holder:    l.seenHolder,
		Held:      l.held && time.Since(l.seenAt) < l.ttl,
		Revision:  l.seenRev,
		RenewedAt: l.seenAt,
	}
}

func (l *Lease) revision() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev
}

// wrote records that this holder wrote (or found its own) entry at rev.
func (l *Lease) wrote(rev uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev, l.held = rev, true
	l.seenLocked(l.holder, rev)
}

// saw records another holder's entry (or none) found while trying to acquire.
func (l *Lease) saw(holder string, rev uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = false
	l.seenLocked(holder, rev)
}

// lost records that this holder no longer has the lease (taken or released); who
// has it now is learnt on the next TryAcquire.
func (l *Lease) lost() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = false
	if l.seenHolder == l.holder {
		l.seenLocked("", 0)
	}
}

func (l *Lease) seenLocked(holder string, rev uint64) {
	if holder != l.seenHolder || rev != l.seenRev || l.seenAt.IsZero() {
		l.seenAt = time.Now()
	}
	l.seenHolder, l.seenRev = holder, rev
}
