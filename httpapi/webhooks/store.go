package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyledger/keyledger/eventstore"
)

// Buckets of the delivery state.
const (
	DeliveriesBucket = "KEYLEDGER_WEBHOOK_DELIVERIES"
	CursorsBucket    = "KEYLEDGER_WEBHOOK_CURSORS"
)

// DeliveriesKept is how long a delivery stays listed after its last change. A pending
// delivery changes at every attempt (an hour apart at most), so it never expires while
// it is retried.
const DeliveriesKept = 8 * 24 * time.Hour

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// errMalformed means a stored delivery cannot be read whatever is tried again.
var errMalformed = errors.New("webhooks: malformed delivery")

// ErrNotFound means there is no such delivery.
var ErrNotFound = errors.New("webhooks: delivery not found")

// Delivery is one change notice on its way to one webhook. It is stored sealed as a
// whole with the organization's data key: the body names the secret.
type Delivery struct {
	ID             string     `json:"id"`
	OrgID          string     `json:"org_id"`
	WebhookID      string     `json:"webhook_id"`
	SecretID       string     `json:"secret_id"`
	Env            string     `json:"env"`
	Seq            uint64     `json:"seq"`
	Part           int        `json:"part"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	// RetryUntil is when a failing delivery stops being retried: RetryFor after it
	// was created (or redelivered).
	RetryUntil time.Time `json:"retry_until"`
	// Body is the notice as the SSE feed sends it, the exact bytes signed and POSTed.
	Body json.RawMessage `json:"body"`
}

// before orders deliveries of one (webhook, secret): by event, then part.
func (d *Delivery) before(o *Delivery) bool {
	return d.Seq < o.Seq || (d.Seq == o.Seq && d.Part < o.Part)
}

// deliveryID is a delivery's id, derived from its webhook and notice, so that a
// notice read again after a crash lands on the delivery it already made.
func deliveryID(webhookID string, seq uint64, env string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("keyledger:webhook-delivery:"+webhookID+":"+strconv.FormatUint(seq, 10)+":"+env)).String()
}

func deliveryKey(orgID, webhookID, id string) string {
	return "d." + orgID + "." + webhookID + "." + id
}

func cursorKey(orgID, webhookID string) string { return orgID + "." + webhookID }

// sealer seals and opens with an organization's data key; eventstore.Keyring is one.
type sealer interface {
	Seal(ctx context.Context, scope string, data, aad []byte) (string, error)
	Open(ctx context.Context, scope, sealed string, aad []byte) ([]byte, error)
}

// Store is the delivery state in NATS: every replica reads and changes it (lists,
// redeliveries); the engine's replica delivers.
type Store struct {
	deliveries jetstream.KeyValue
	// stream is the deliveries bucket's stream, whose state says which keys hold a
	// message: what a listing checks its watcher against.
	stream   jetstream.Stream
	cursors  jetstream.KeyValue
	keys     sealer
	retryFor time.Duration
	js       jetstream.JetStream
	reps     int
}

// OpenStore opens (or creates) the delivery buckets. retryFor is how long a failing
// delivery is retried (a redelivery starts it afresh); 0 means DefaultRetryFor.
func OpenStore(ctx context.Context, store *eventstore.Store, retryFor time.Duration) (*Store, error) {
	js := store.JetStream()
	d, stream, err := eventstore.OpenBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: DeliveriesBucket, Description: "Keyledger webhook deliveries (sealed)", History: 1,
		TTL: DeliveriesKept, Storage: jetstream.FileStorage, Replicas: store.Replicas(),
	})
	if err != nil {
		return nil, err
	}
	c, _, err := eventstore.OpenBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: CursorsBucket, Description: "Keyledger webhook feed positions", History: 1,
		Storage: jetstream.FileStorage, Replicas: store.Replicas(),
	})
	if err != nil {
		return nil, err
	}
	if retryFor <= 0 {
		retryFor = DefaultRetryFor
	}
	return &Store{deliveries: d, stream: stream, cursors: c, keys: store.Keyring(), retryFor: retryFor, js: js, reps: store.Replicas()}, nil
}

// get reads key's latest value in kv as NATS has acknowledged it, on a cluster too
// (eventstore.GetKV): a delivery or cursor another replica has just written is not
// read as missing or as its previous revision. jetstream.ErrKeyNotFound when there is
// none.
func (s *Store) get(ctx context.Context, kv jetstream.KeyValue, key string) (eventstore.KVEntry, error) {
	e, ok, err := eventstore.GetKV(ctx, s.js, kv, s.reps, key)
	if err == nil && !ok {
		err = jetstream.ErrKeyNotFound
	}
	return e, err
}

func aad(key string) []byte { return []byte("keyledger/webhook-delivery/" + key) }

func (s *Store) encode(ctx context.Context, d *Delivery) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode delivery: %w", err)
	}
	sealed, err := s.keys.Seal(ctx, d.OrgID, b, aad(deliveryKey(d.OrgID, d.WebhookID, d.ID)))
	if err != nil {
		return nil, fmt.Errorf("seal delivery: %w", err)
	}
	return []byte(sealed), nil
}

// decode opens a stored delivery; the org is the key's second token.
func (s *Store) decode(ctx context.Context, key string, value []byte) (*Delivery, error) {
	parts := strings.Split(key, ".")
	if len(parts) != 4 || parts[0] != "d" {
		return nil, fmt.Errorf("%w: key %q", errMalformed, key)
	}
	b, err := s.keys.Open(ctx, parts[1], string(value), aad(key))
	if err != nil {
		return nil, fmt.Errorf("open delivery: %w", err)
	}
	var d Delivery
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return &d, nil
}

// create stores a new delivery; a delivery that exists already (the notice was read
// again after a crash) is left as it is.
func (s *Store) create(ctx context.Context, d *Delivery) error {
	v, err := s.encode(ctx, d)
	if err != nil {
		return err
	}
	if _, err := s.deliveries.Create(ctx, deliveryKey(d.OrgID, d.WebhookID, d.ID), v); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("create delivery: %w", err)
	}
	return nil
}

// update stores d over the revision rev; it fails if someone changed it since (a
// redelivery), so that nothing is lost.
func (s *Store) update(ctx context.Context, d *Delivery, rev uint64) (uint64, error) {
	v, err := s.encode(ctx, d)
	if err != nil {
		return 0, err
	}
	next, err := s.deliveries.Update(ctx, deliveryKey(d.OrgID, d.WebhookID, d.ID), v, rev)
	if err != nil {
		return 0, fmt.Errorf("update delivery: %w", err)
	}
	return next, nil
}

// cursor is the last event sequence whose notices were all turned into deliveries for
// a webhook; 0 when none was.
func (s *Store) cursor(ctx context.Context, orgID, webhookID string) (uint64, error) {
	e, err := s.get(ctx, s.cursors, cursorKey(orgID, webhookID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("webhook cursor: %w", err)
	}
	seq, err := strconv.ParseUint(string(e.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("webhook cursor %q: %w", e.Value, err)
	}
	return seq, nil
}

func (s *Store) setCursor(ctx context.Context, orgID, webhookID string, seq uint64) error {
	if _, err := s.cursors.Put(ctx, cursorKey(orgID, webhookID), []byte(strconv.FormatUint(seq, 10))); err != nil {
		return fmt.Errorf("set webhook cursor: %w", err)
	}
	return nil
}

func (s *Store) deleteCursor(ctx context.Context, orgID, webhookID string) error {
	if err := s.cursors.Purge(ctx, cursorKey(orgID, webhookID)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("drop webhook cursor: %w", err)
	}
	return nil
}

// List is a webhook's deliveries, newest event first, at most limit of them.
func (s *Store) List(ctx context.Context, orgID, webhookID string, limit int) ([]Delivery, error) {
	filter := "d." + orgID + "." + webhookID + ".*"
	w, err := s.deliveries.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer func() { _ = w.Stop() }()
	// read is every delivery the watcher delivered by key, the newest version of
	// each (nil: one that cannot be opened).
	read := map[string]*Delivery{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list deliveries: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("list deliveries: the watch ended early")
			}
			if e == nil {
				// The watcher delivered what it counted; a delivery updated meanwhile
				// may not be among it, so the stream's state says what else to read.
				out, err := s.missed(ctx, filter, read)
				if err != nil {
					return nil, err
				}
				for _, d := range read {
					if d != nil {
						out = append(out, *d)
					}
				}
				slices.SortFunc(out, func(a, b Delivery) int {
					if a.before(&b) {
						return 1
					}
					if b.before(&a) {
						return -1
					}
					return 0
				})
				return out[:min(len(out), limit)], nil
			}
			// An organization whose keys were destroyed has nothing to list (nil).
			d, _ := s.decode(ctx, e.Key(), e.Value())
			read[e.Key()] = d
		}
	}
}

// missed reads the deliveries under filter that the stream holds and a watcher did
// not deliver (seen): those replaced by an update between the watcher's creation and
// its delivery. A key deleted or expired since is not a delivery any more.
func (s *Store) missed(ctx context.Context, filter string, seen map[string]*Delivery) ([]Delivery, error) {
	prefix := "$KV." + DeliveriesBucket + "."
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(prefix+filter))
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := []Delivery{}
	for subject := range info.State.Subjects {
		key := strings.TrimPrefix(subject, prefix)
		if _, ok := seen[key]; ok {
			continue
		}
		e, err := s.get(ctx, s.deliveries, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		d, err := s.decode(ctx, key, e.Value)
		if err != nil {
			continue // as above: an organization whose keys were destroyed
		}
		out = append(out, *d)
	}
	return out, nil
}

// Redeliver makes a delivery pending again, due now, with a fresh retry window; the
// engine sends it on its next pass.
func (s *Store) Redeliver(ctx context.Context, orgID, webhookID, id string, now time.Time) (*Delivery, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, ErrNotFound
	}
	key := deliveryKey(orgID, webhookID, id)
	for range 8 {
		e, err := s.get(ctx, s.deliveries, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("redeliver: %w", err)
		}
		d, err := s.decode(ctx, key, e.Value)
		if err != nil {
			return nil, ErrNotFound
		}
		due := now.UTC()
		d.Status, d.NextAttemptAt, d.RetryUntil = StatusPending, &due, now.Add(s.retryFor).UTC()
		if _, err := s.update(ctx, d, e.Revision); err == nil {
			return d, nil
		} else if !isWrongRevision(err) {
			return nil, err
		}
	}
	return nil, errors.New("redeliver: the delivery kept changing; try again")
}

func isWrongRevision(err error) bool { return errors.Is(err, jetstream.ErrKeyRevisionMismatch) }
