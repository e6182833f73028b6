package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ReservationsBucket holds unique-value reservations (secret names per organization).
// It is an index derivable from the log: a reservation whose holder's events say it is
// gone can be taken over.
const ReservationsBucket = "KEYLEDGER_RESERVATIONS"

// ErrReserved means another holder has the value.
var ErrReserved = errors.New("eventstore: already reserved")

// Reservation is a held unique value.
type Reservation struct {
	Key      string
	Holder   string
	Revision uint64
	Created  time.Time
}

// Reservations reserves unique values atomically with KV Create.
type Reservations struct {
	kv jetstream.KeyValue
}

// Reservations opens (or creates) the reservations bucket.
func (s *Store) Reservations(ctx context.Context) (*Reservations, error) {
	kv, err := createBucket(ctx, s.js, jetstream.KeyValueConfig{
		Bucket: ReservationsBucket, History: 1, Storage: jetstream.FileStorage, Replicas: s.reps,
	})
	if err != nil {
		return nil, fmt.Errorf("reservations bucket: %w", err)
	}
	return &Reservations{kv: kv}, nil
}

// ReservationKey makes a bucket key of a scope and a value without the value in clear.
func ReservationKey(scope, value string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + value))
	return scope + "." + hex.EncodeToString(sum[:16])
}

// Reserve takes key for holder. When someone holds it already it returns ErrReserved
// and the current reservation, so that the caller can check whether it is stale.
func (r *Reservations) Reserve(ctx context.Context, key, holder string) (Reservation, error) {
	rev, err := r.kv.Create(ctx, key, []byte(holder))
	if err == nil {
		return Reservation{Key: key, Holder: holder, Revision: rev}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Released in between: try once more.
		return r.Reserve(ctx, key, holder)
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	return Reservation{Key: key, Holder: string(e.Value()), Revision: e.Revision(), Created: e.Created()}, ErrReserved
}

// TakeOver replaces a stale reservation, only if it is still at that revision.
func (r *Reservations) TakeOver(ctx context.Context, stale Reservation, holder string) (Reservation, error) {
	rev, err := r.kv.Update(ctx, stale.Key, []byte(holder), stale.Revision)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return Reservation{}, ErrReserved
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("take over reservation: %w", err)
	}
	return Reservation{Key: stale.Key, Holder: holder, Revision: rev}, nil
}

// Release frees key if holder still has it.
func (r *Reservations) Release(ctx context.Context, key, holder string) error {
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if string(e.Value()) != holder {
		return nil
	}
	if err := r.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}
