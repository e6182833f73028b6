package reservation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ReservationsBucket holds unique-value reservations (secret names per organization),
// each under a keyed hash of its value (Key). It is an index derivable from the log: a
// reservation whose holder's events say it is gone can be taken over.
const ReservationsBucket = "KEYLEDGER_NAMES"

// LegacyBucket held the reservations of earlier versions, under a bare SHA-256 of
// scope and value (LegacyKey). It is read, never written, until its live reservations
// are moved into ReservationsBucket; then it is deleted, files and all (a KV purge
// would leave the hashes in the block files until a compaction that may never come).
const LegacyBucket = "KEYLEDGER_RESERVATIONS"

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
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	reps int
	keys nameKeys
	// legacy is LegacyBucket when it existed at Open; legacyGone is set once it is
	// known to be deleted (by this process or another).
	legacy     jetstream.KeyValue
	legacyGone atomic.Bool
	// quiet is set while the bucket is known to hold nothing (Quiet): writes holds the
	// subscription to its subjects that tells otherwise, and reconnects the
	// connection's count of reconnections when it was made.
	quiet      atomic.Bool
	writes     *nats.Subscription
	reconnects uint64
}

// nameKeys gives a scope's key for keyed hashes of names (the keyring's NameKey).
type nameKeys interface {
	NameKey(ctx context.Context, scope string) ([]byte, error)
}

// Open opens (or creates) the reservations bucket beside s's log, and the legacy
// bucket if one is left.
func Open(ctx context.Context, s *eventstore.Store) (*Reservations, error) {
	js := s.JetStream()
	kv, err := eventstore.CreateBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: ReservationsBucket, History: 1, Storage: jetstream.FileStorage, Replicas: s.Replicas(),
	})
	if err != nil {
		return nil, fmt.Errorf("reservations bucket: %w", err)
	}
	r := &Reservations{js: js, kv: kv, reps: s.Replicas(), keys: s.Keyring()}
	legacy, err := eventstore.RetrySetup(ctx, js.Conn(), func(ctx context.Context) (jetstream.KeyValue, error) {
		kv, err := js.KeyValue(ctx, LegacyBucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, nil
		}
		return kv, err
	})
	if err != nil {
		return nil, fmt.Errorf("legacy reservations bucket: %w", err)
	}
	r.legacy = legacy
	r.legacyGone.Store(legacy == nil)
	if err := r.watchQuiet(ctx); err != nil {
		return nil, fmt.Errorf("reservations bucket: %w", err)
	}
	return r, nil
}

// watchQuiet sets quiet when the bucket holds no message: it subscribes to the
// bucket's subjects first, so that a write after the look is not missed, then looks.
// Creates write no reservation since secret ids derive from names, so on a server
// that never ran an earlier version the bucket stays empty, and a create need not
// ask for its name's reservation (a request to the bucket's stream, some 2 % of a
// create's CPU).
func (r *Reservations) watchQuiet(ctx context.Context) error {
	nc := r.js.Conn()
	subject := "$KV." + ReservationsBucket + ".>"
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	reconnects := nc.Stats().Reconnects
	// The flush has the server register the subscription before the look.
	info, err := eventstore.RetrySetup(ctx, nc, func(ctx context.Context) (jetstream.KeyValueStatus, error) {
		if err := nc.FlushWithContext(ctx); err != nil {
			return nil, err
		}
		return eventstore.BucketStatus(ctx, r.kv)
	})
	if err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("look: %w", err)
	}
	// A user not allowed to subscribe there gets its refusal before the flush's
	// answer, and would never hear of a write: such a bucket is never quiet.
	if last := nc.LastError(); info.Values() > 0 || (errors.Is(last, nats.ErrPermissionViolation) && strings.Contains(last.Error(), subject)) {
		return sub.Unsubscribe()
	}
	r.writes, r.reconnects = sub, reconnects
	r.quiet.Store(true)
	return nil
}

// Quiet says whether the bucket holds no reservation, as far as this process knows:
// it held no message when Open looked, and no write to it has reached the
// subscription made before that look, which lost none (no reconnection; the
// subscription is never read, so a write stays pending there, and it could drop one
// only with thousands pending). Once not quiet, never again. A reservation an earlier version takes on
// another replica is seen here once NATS has delivered it: a create on this version
// that reads Quiet just before races that reservation as it would race it without
// Quiet, since this version takes none (Holder is read, then the event appended).
func (r *Reservations) Quiet() bool {
	if !r.quiet.Load() {
		return false
	}
	if n, _, err := r.writes.Pending(); err == nil && n == 0 && r.js.Conn().Stats().Reconnects == r.reconnects {
		return true
	}
	r.noLongerQuiet()
	return false
}

// noLongerQuiet clears quiet for good, and ends the subscription that kept it.
func (r *Reservations) noLongerQuiet() {
	if r.quiet.CompareAndSwap(true, false) {
		_ = r.writes.Unsubscribe()
	}
}

// Key is the bucket key of value in scope: the scope, then an HMAC-SHA256 of the
// value under the scope's name key (eventstore.Keyring.NameKey). The value is not in
// it, and without the scope's data key (which erasure destroys) no dictionary can
// confirm which value it is.
func (r *Reservations) Key(ctx context.Context, scope, value string) (string, error) {
	nk, err := r.keys.NameKey(ctx, scope)
	if err != nil {
		return "", fmt.Errorf("reservation key: %w", err)
	}
	mac := hmac.New(sha256.New, nk)
	mac.Write([]byte(value))
	return scope + "." + hex.EncodeToString(mac.Sum(nil)[:16]), nil
}

// LegacyKey is the key of value in scope in LegacyBucket: a bare SHA-256 of both,
// which a dictionary of likely values confirms, and which outlived the scope's erasure.
func LegacyKey(scope, value string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + value))
	return scope + "." + hex.EncodeToString(sum[:16])
}

// Holder is who holds key, if anyone: on a cluster as NATS has acknowledged it (see
// eventstore.GetKV), so that a reservation another replica has just taken or released
// is seen as such.
func (r *Reservations) Holder(ctx context.Context, key string) (Reservation, bool, error) {
	return r.holder(ctx, r.kv, key)
}

func (r *Reservations) holder(ctx context.Context, kv jetstream.KeyValue, key string) (Reservation, bool, error) {
	e, ok, err := eventstore.GetKV(ctx, r.js, kv, r.reps, key)
	if err != nil {
		return Reservation{}, false, fmt.Errorf("reservation %s: %w", key, err)
	}
	if !ok {
		return Reservation{}, false, nil
	}
	return Reservation{Key: key, Holder: string(e.Value), Revision: e.Revision, Created: e.Created}, true, nil
}

func reservationOf(e jetstream.KeyValueEntry) Reservation {
	return Reservation{Key: e.Key(), Holder: string(e.Value()), Revision: e.Revision(), Created: e.Created()}
}

// KeyScope is the scope a key (Key's or LegacyKey's) was made in.
func KeyScope(key string) string {
	scope, _, _ := strings.Cut(key, ".")
	return scope
}

// LegacyHolder is who holds value in scope in the legacy bucket, if it is left and
// anyone does.
func (r *Reservations) LegacyHolder(ctx context.Context, scope, value string) (Reservation, bool, error) {
	if r.legacyGone.Load() {
		return Reservation{}, false, nil
	}
	res, ok, err := r.holder(ctx, r.legacy, LegacyKey(scope, value))
	if err != nil && r.legacyDeleted(ctx) {
		return Reservation{}, false, nil
	}
	return res, ok, err
}

// legacyDeleted says whether the legacy bucket is gone (another replica deleted it).
func (r *Reservations) legacyDeleted(ctx context.Context) bool {
	_, err := r.js.KeyValue(ctx, LegacyBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		r.legacyGone.Store(true)
		return true
	}
	return false
}

// Legacy lists the reservations held in the legacy bucket (none once it is gone), in
// one pass over the bucket.
func (r *Reservations) Legacy(ctx context.Context) ([]Reservation, error) {
	if r.legacyGone.Load() {
		return nil, nil
	}
	w, err := r.legacy.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		if r.legacyDeleted(ctx) {
			return nil, nil
		}
		return nil, fmt.Errorf("list legacy reservations: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []Reservation
	for e := range w.Updates() {
		if e == nil { // the initial values are all in
			return out, nil
		}
		out = append(out, reservationOf(e))
	}
	return out, nil
}

// DropLegacy deletes the legacy bucket, its stream and files: the caller has moved
// every reservation it held. Nothing is left to drop is no error.
func (r *Reservations) DropLegacy(ctx context.Context) error {
	if r.legacyGone.Load() {
		return nil
	}
	err := r.js.DeleteKeyValue(ctx, LegacyBucket)
	if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete the legacy reservations bucket: %w", err)
	}
	r.legacyGone.Store(true)
	return nil
}

// LegacyLeft says whether the legacy bucket may still hold reservations.
func (r *Reservations) LegacyLeft() bool { return !r.legacyGone.Load() }

// Reserve takes key for holder. When someone holds it already it returns ErrReserved
// and the current reservation, so that the caller can check whether it is stale.
func (r *Reservations) Reserve(ctx context.Context, key, holder string) (Reservation, error) {
	r.noLongerQuiet()
	rev, err := r.kv.Create(ctx, key, []byte(holder))
	if err == nil {
		return Reservation{Key: key, Holder: holder, Revision: rev}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	cur, ok, err := r.Holder(ctx, key)
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve: %w", err)
	}
	if !ok {
		// Released in between: try once more.
		return r.Reserve(ctx, key, holder)
	}
	return cur, ErrReserved
}

// TakeOver replaces a stale reservation, only if it is still at that revision.
func (r *Reservations) TakeOver(ctx context.Context, stale Reservation, holder string) (Reservation, error) {
	r.noLongerQuiet()
	rev, err := r.kv.Update(ctx, stale.Key, []byte(holder), stale.Revision)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return Reservation{}, ErrReserved
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("take over reservation: %w", err)
	}
	return Reservation{Key: stale.Key, Holder: holder, Revision: rev}, nil
}

// Release frees key if holder still has it. A quiet bucket holds nothing to free.
func (r *Reservations) Release(ctx context.Context, key, holder string) error {
	if r.Quiet() {
		return nil
	}
	cur, ok, err := r.Holder(ctx, key)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if !ok || cur.Holder != holder {
		return nil
	}
	if err := r.kv.Delete(ctx, key, jetstream.LastRevision(cur.Revision)); err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}
