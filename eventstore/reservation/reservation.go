package reservation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyledger/keyledger/eventstore"
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
	kv     jetstream.KeyValue
	stream jetstream.Stream
	keys   nameKeys
}

// nameKeys gives a scope's key for keyed hashes of names (the keyring's NameKey).
type nameKeys interface {
	NameKey(ctx context.Context, scope string) ([]byte, error)
}

// Open opens (or creates) the reservations bucket beside s's log.
func Open(ctx context.Context, s *eventstore.Store) (*Reservations, error) {
	kv, err := eventstore.CreateBucket(ctx, s.JetStream(), jetstream.KeyValueConfig{
		Bucket: ReservationsBucket, History: 1, Storage: jetstream.FileStorage, Replicas: s.Replicas(),
	})
	if err != nil {
		return nil, fmt.Errorf("reservations bucket: %w", err)
	}
	stream, err := s.JetStream().Stream(ctx, "KV_"+ReservationsBucket)
	if err != nil {
		return nil, fmt.Errorf("reservations bucket: %w", err)
	}
	return &Reservations{kv: kv, stream: stream, keys: s.Keyring()}, nil
}

// keyedMark is the middle token of a keyed reservation key ("<scope>.k1.<hash>"): what
// tells it from a legacy one ("<scope>.<hash>", two tokens).
const keyedMark = "k1"

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
	return scope + "." + keyedMark + "." + hex.EncodeToString(mac.Sum(nil)[:16]), nil
}

// LegacyKey is the key a reservation had before keys were keyed: a bare SHA-256 of
// scope and value, which a dictionary of likely names confirms and which outlived the
// organization's erasure. Creates still honour a live one (a name reserved then stays
// taken) until MigrateLegacy has moved it; nothing writes one any more.
func LegacyKey(scope, value string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + value))
	return scope + "." + hex.EncodeToString(sum[:16])
}

// Holder is who holds key, if anyone.
func (r *Reservations) Holder(ctx context.Context, key string) (Reservation, bool, error) {
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Reservation{}, false, nil
	}
	if err != nil {
		return Reservation{}, false, fmt.Errorf("reservation %s: %w", key, err)
	}
	return Reservation{Key: key, Holder: string(e.Value()), Revision: e.Revision(), Created: e.Created()}, true, nil
}

// Legacy lists the legacy keys (LegacyKey) still in the bucket: held ones with their
// holder, and those with only a deletion marker left (a released name) with none.
// Either way the key's bare hash is on disk until Forget.
func (r *Reservations) Legacy(ctx context.Context) ([]Reservation, error) {
	prefix := "$KV." + ReservationsBucket + "."
	info, err := r.stream.Info(ctx, jetstream.WithSubjectFilter(prefix+"*.*"))
	if err != nil {
		return nil, fmt.Errorf("list legacy reservations: %w", err)
	}
	out := make([]Reservation, 0, len(info.State.Subjects))
	for subject := range info.State.Subjects {
		key := strings.TrimPrefix(subject, prefix)
		res, ok, err := r.Holder(ctx, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			res = Reservation{Key: key}
		}
		out = append(out, res)
	}
	slices.SortFunc(out, func(a, b Reservation) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Forget removes a reservation with its history and leaves no trace of its key in the
// bucket (a KV delete or purge would leave a marker under it): for legacy keys, whose
// bare hash must not outlive its move.
func (r *Reservations) Forget(ctx context.Context, key string) error {
	if err := r.stream.Purge(ctx, jetstream.WithPurgeSubject("$KV."+ReservationsBucket+"."+key)); err != nil {
		return fmt.Errorf("forget reservation %s: %w", key, err)
	}
	return nil
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
