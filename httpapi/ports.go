package httpapi

import (
	"context"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/httpapi/authcache"
	"github.com/keyledger/keyledger/httpapi/webhooks"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// What the server needs of the event log and of the stores beside it, each declared
// here, where it is used, and as small as its use. The NATS-backed implementations
// (*eventstore.Store, *natskv.Bucket, *changefeed.Changes) are wired in by
// cmd/keyledger's serve and by httpapi/apitest: this package imports no NATS package
// and not eventstore. It tells the stores' outcomes apart with eventstore/storeerr's
// sentinels (standard library only) and Config.Unavailable.

// EventLog is what the API reads of the log itself: the views that answer a command
// from its own result (commands.Log: LoadUser, OrganizationAt, MemberAt, and the fetch
// handler's load and audit append), the scope history that as_of listings and audit
// verification replay (projections.ScopeLoader), and the log's head, for min_seq,
// /readyz and /metrics. *eventstore.Store implements it.
type EventLog interface {
	commands.Log
	projections.ScopeLoader
	projections.AsOfLoader
	LastSeq(ctx context.Context) (uint64, error)
	// Erasures lists the organizations' erasure records, newest first.
	Erasures(ctx context.Context) ([]commands.ErasureRecord, error)
}

// SessionRecords keeps sessions beside the log, so that every replica sees a login and
// a logout at once. Get returns an error wrapping storeerr.ErrNotFound for a key it does
// not hold; values are sealed at rest by the implementation (*natskv.Bucket), whose
// entries must outlive Config.SessionTTL.
type SessionRecords interface {
	Create(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// IdempotencyRecords remembers, per user and Idempotency-Key, the request a key was
// first sent with and a refusal to replay (IdempotencyTTL at least). Get returns an
// error wrapping storeerr.ErrNotFound for a key it does not hold. *natskv.Bucket
// implements it.
type IdempotencyRecords interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte) error
}

// ChangeFeed delivers an organization's change notices for events after
// afterEventSeq, in order, then new ones until ctx ends, names opened.
// *changefeed.Changes implements it.
type ChangeFeed interface {
	Follow(ctx context.Context, orgID string, afterEventSeq uint64) (<-chan wire.ChangeNotice, error)
}

// WebhookDeliveries is the webhooks' delivery state, kept beside the log
// (*webhooks.Store): the API lists a webhook's deliveries and sends one again.
type WebhookDeliveries interface {
	List(ctx context.Context, orgID, webhookID string, limit int) ([]webhooks.Delivery, error)
	Redeliver(ctx context.Context, orgID, webhookID, id string, now time.Time) (*webhooks.Delivery, error)
}

// CredentialCache keeps known tokens and sessions in memory on this replica
// (*authcache.Cache): Invalidate returns once every replica has dropped what the tags
// name, so that a revocation bites on the next request everywhere.
type CredentialCache interface {
	Get(key string) (any, bool)
	Begin() authcache.Gen
	Put(g authcache.Gen, key string, tags []string, value any)
	Invalidate(ctx context.Context, tags ...string) error
	Stats() authcache.Stats
	Close()
}
