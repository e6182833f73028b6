// Package authcache keeps what authenticating a request needs (a token's identity, a
// session) in memory, so that a request with a known credential reads neither the log
// nor a bucket, and still lets a revocation bite on the very next request on every
// replica.
//
// How a revocation reaches every replica before it is answered:
//
//   - Every replica subscribes to one NATS subject for invalidations, then registers
//     itself in a presence bucket (KEYLEDGER_AUTH_REPLICAS, entries expire after
//     PresenceTTL) and renews its entry every Heartbeat, each renewal conditional on the
//     revision it last wrote.
//   - Invalidate lists the replicas from the bucket stream's state (one request the
//     stream's leader answers), every key that has a message: a live entry, or the
//     deletion marker of a fenced replica, which may still be fresh. Not with a KV
//     watcher: it says "all delivered" by counting, and a renewal that replaced an
//     entry between the watcher's creation and its delivery left that replica out.
//   - A replica answers from its cache only while its last successful renewal was sent
//     less than Freshness ago. A replica that cannot renew (cut off from NATS, stalled)
//     stops using its cache and authenticates from the log and the buckets again.
//   - Invalidate (called after a revocation, a logout, … is durable) lists the
//     registered replicas, publishes the invalidation and waits until each of them has
//     answered that it dropped the entries. A replica that does not answer within
//     AckTimeout is fenced: its presence entry is deleted (so its next renewal fails and
//     it empties its cache before using it again) and Invalidate waits Freshness more,
//     after which that replica's last renewal is too old for it to use its cache. A
//     silent replica already fenced (its key holds a deletion marker) is not deleted
//     again, which would keep its marker alive, but waited out all the same: its last
//     renewal came before the marker. Only then does Invalidate return, and the
//     revocation answer.
//   - An entry loaded from the log while an invalidation arrived is not kept (a
//     generation counter), and a replica empties its cache whenever it (re)registers.
//
// A replica that registers after Invalidate listed the replicas started empty after the
// revocation was durable, so it loads the revoked state.
package authcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names on NATS.
const (
	PresenceBucket     = "KEYLEDGER_AUTH_REPLICAS"
	InvalidateSubject  = "keyledger.auth.invalidate"
	defaultMaxEntries  = 100_000
	defaultMaxAge      = 10 * time.Minute
	defaultHeartbeat   = 500 * time.Millisecond
	defaultFreshness   = 2 * time.Second
	defaultAckTimeout  = 2 * time.Second
	defaultPresenceTTL = 10 * time.Second
)

// Options tune the cache; zero values take the defaults.
type Options struct {
	// Heartbeat is how often a replica renews its presence; Freshness how old its last
	// renewal may be for it to use its cache (several heartbeats); PresenceTTL how long
	// a silent replica stays registered (more than Freshness).
	Heartbeat, Freshness, PresenceTTL time.Duration
	// AckTimeout is how long Invalidate waits for a replica before fencing it.
	AckTimeout time.Duration
	// MaxEntries bounds memory: a full cache is emptied. MaxAge bounds how long an
	// entry is trusted at all.
	MaxEntries int
	MaxAge     time.Duration
	Replicas   int
	Logger     *slog.Logger
}

// Stats count lookups, for tests and metrics: a hit read nothing from NATS.
type Stats struct {
	Hits, Misses, Invalidations, Fenced int64
}

type entry struct {
	value any
	tags  []string
	at    time.Time
}

// Cache is one replica's authentication cache.
type Cache struct {
	opts Options
	log  *slog.Logger
	nc   *nats.Conn
	kv   jetstream.KeyValue
	// js asks the bucket's stream's leader (registered); stream is that stream, whose
	// state lists the replicas.
	js     jetstream.JetStream
	stream jetstream.Stream
	id     string
	sub    *nats.Subscription

	mu      sync.Mutex
	entries map[string]*entry
	byTag   map[string]map[string]struct{}
	gen     uint64
	// freshUntil is when the last successful renewal stops vouching for the cache.
	freshUntil time.Time

	hits, misses, invalidations, fenced atomic.Int64

	stop chan struct{}
	done chan struct{}
}

// Gen is the cache's generation before a load; Put keeps the loaded value only if no
// invalidation came in between.
type Gen uint64

type invalidation struct {
	Tags []string `json:"tags"`
}

// Open subscribes to invalidations, registers this replica and starts renewing its
// presence. Close stops it.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Cache, error) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = defaultHeartbeat
	}
	if opts.Freshness <= 0 {
		opts.Freshness = defaultFreshness
	}
	if opts.PresenceTTL <= opts.Freshness {
		opts.PresenceTTL = max(defaultPresenceTTL, 2*opts.Freshness)
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = defaultAckTimeout
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = defaultMaxEntries
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = defaultMaxAge
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, stream, err := presenceBucket(ctx, js, opts)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("authcache: replica id: %w", err)
	}
	c := &Cache{
		opts: opts, log: log, nc: js.Conn(), kv: kv, js: js, stream: stream,
		id:      hex.EncodeToString(raw),
		entries: map[string]*entry{}, byTag: map[string]map[string]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	// Subscribe first: once registered, this replica must hear every invalidation.
	if c.sub, err = c.nc.Subscribe(InvalidateSubject, c.onInvalidate); err != nil {
		return nil, fmt.Errorf("authcache: subscribe: %w", err)
	}
	rev, err := c.register(ctx)
	if err != nil {
		_ = c.sub.Unsubscribe()
		return nil, err
	}
	go c.renew(rev)
	return c, nil
}

// presenceBucket opens (or creates) the presence bucket and its stream.
func presenceBucket(ctx context.Context, js jetstream.JetStream, opts Options) (jetstream.KeyValue, jetstream.Stream, error) {
	kv, stream, err := eventstore.OpenBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: PresenceBucket, History: 1, TTL: opts.PresenceTTL, Storage: jetstream.MemoryStorage, Replicas: max(opts.Replicas, 1),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("authcache: presence bucket: %w", err)
	}
	return kv, stream, nil
}

// register empties the cache and (re)creates this replica's presence entry.
func (c *Cache) register(ctx context.Context) (uint64, error) {
	c.flush()
	sent := time.Now()
	rev, err := c.kv.Create(ctx, c.id, []byte("1"))
	if err != nil {
		return 0, fmt.Errorf("authcache: register replica: %w", err)
	}
	c.fresh(sent)
	return rev, nil
}

// fresh records a successful renewal sent at sent.
func (c *Cache) fresh(sent time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := sent.Add(c.opts.Freshness); until.After(c.freshUntil) {
		c.freshUntil = until
	}
}

// renew keeps the presence entry alive; a failed conditional renewal means this
// replica was fenced (or its entry expired): it empties the cache and registers again.
func (c *Cache) renew(rev uint64) {
	defer close(c.done)
	t := time.NewTicker(c.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.Freshness)
		sent := time.Now()
		next, err := c.kv.Update(ctx, c.id, []byte("1"), rev)
		switch {
		case err == nil:
			rev = next
			c.fresh(sent)
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
			c.log.Warn("authcache: presence lost (fenced or expired): emptying the cache", "replica", c.id, "err", err)
			if r, err := c.register(ctx); err == nil {
				rev = r
			} else {
				c.log.Warn("authcache: register again", "err", err)
			}
		default:
			c.log.Warn("authcache: renew presence", "err", err)
		}
		cancel()
	}
}

// Close stops renewing, stops answering from the cache and leaves the presence
// bucket without a trace: a deletion marker would be listed, and waited for, by every
// invalidation until it expired.
func (c *Cache) Close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	<-c.done
	c.mu.Lock()
	c.freshUntil = time.Time{}
	c.mu.Unlock()
	_ = c.sub.Unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.stream.Purge(ctx, jetstream.WithPurgeSubject(presencePrefix+c.id))
}

// usable reports whether this replica may answer from its cache (mu held).
func (c *Cache) usable(now time.Time) bool { return now.Before(c.freshUntil) }

// Get returns the value cached under key, if the cache may be used now.
func (c *Cache) Get(key string) (any, bool) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || !c.usable(now) || now.Sub(e.at) > c.opts.MaxAge {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return e.value, true
}

// Begin is taken before loading what Put will keep.
func (c *Cache) Begin() Gen {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Gen(c.gen)
}

// Put keeps value under key, findable for invalidation by each of tags, unless an
// invalidation arrived since g was taken.
func (c *Cache) Put(g Gen, key string, tags []string, value any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if uint64(g) != c.gen {
		return
	}
	if len(c.entries) >= c.opts.MaxEntries {
		c.entries, c.byTag = map[string]*entry{}, map[string]map[string]struct{}{}
	}
	c.dropKey(key)
	c.entries[key] = &entry{value: value, tags: tags, at: time.Now()}
	for _, t := range tags {
		keys := c.byTag[t]
		if keys == nil {
			keys = map[string]struct{}{}
			c.byTag[t] = keys
		}
		keys[key] = struct{}{}
	}
}

func (c *Cache) dropKey(key string) {
	e := c.entries[key]
	if e == nil {
		return
	}
	delete(c.entries, key)
	for _, t := range e.tags {
		if keys := c.byTag[t]; keys != nil {
			delete(keys, key)
			if len(keys) == 0 {
				delete(c.byTag, t)
			}
		}
	}
}

// drop removes every entry with one of tags, locally.
func (c *Cache) drop(tags []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, t := range tags {
		for key := range c.byTag[t] {
			c.dropKey(key)
		}
	}
}

func (c *Cache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries, c.byTag = map[string]*entry{}, map[string]map[string]struct{}{}
}

func (c *Cache) onInvalidate(m *nats.Msg) {
	var inv invalidation
	if err := json.Unmarshal(m.Data, &inv); err != nil {
		// Unreadable: drop everything rather than guess.
		c.flush()
	} else {
		c.drop(inv.Tags)
	}
	if m.Reply != "" {
		_ = m.Respond([]byte(c.id))
	}
}

// Invalidate drops the entries with any of tags on every replica and returns once none
// of them can answer from such an entry any more (see the package doc). Call it after
// the change that makes them stale is durable.
func (c *Cache) Invalidate(ctx context.Context, tags ...string) error {
	c.invalidations.Add(1)
	c.drop(tags)
	lctx, cancel := context.WithTimeout(ctx, c.opts.AckTimeout)
	waiting, err := c.replicas(lctx)
	cancel()
	if err != nil {
		return err
	}
	delete(waiting, c.id) // dropped above
	if len(waiting) == 0 {
		return nil
	}
	data, err := json.Marshal(invalidation{Tags: tags})
	if err != nil {
		return fmt.Errorf("authcache: %w", err)
	}
	inbox := c.nc.NewRespInbox()
	replies, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("authcache: subscribe for acknowledgements: %w", err)
	}
	defer func() { _ = replies.Unsubscribe() }()
	if err := c.nc.PublishRequest(InvalidateSubject, inbox, data); err != nil {
		return fmt.Errorf("authcache: publish invalidation: %w", err)
	}
	deadline := time.Now().Add(c.opts.AckTimeout)
	for len(waiting) > 0 {
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		msg, err := replies.NextMsg(wait)
		if errors.Is(err, nats.ErrTimeout) {
			break
		}
		if err != nil {
			return fmt.Errorf("authcache: acknowledgements: %w", err)
		}
		delete(waiting, string(msg.Data))
	}
	if len(waiting) == 0 {
		return nil
	}
	// Fence the silent ones (those not fenced already) and outwait their freshness.
	for id := range waiting {
		live, err := c.registered(ctx, id)
		if err != nil {
			return err
		}
		if !live {
			continue
		}
		c.fenced.Add(1)
		c.log.Warn("authcache: a replica did not acknowledge an invalidation: fencing it", "replica", id)
		if err := c.kv.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("authcache: fence replica %s: %w", id, err)
		}
	}
	select {
	case <-time.After(c.opts.Freshness):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("authcache: wait out a fenced replica: %w", ctx.Err())
	}
}

// replicas lists the replicas an invalidation must reach: every key of the presence
// bucket with a message at the stream's leader, a live entry or a deletion marker.
func (c *Cache) replicas(ctx context.Context) (map[string]bool, error) {
	info, err := c.stream.Info(ctx, jetstream.WithSubjectFilter(presencePrefix+">"))
	if err != nil {
		return nil, fmt.Errorf("authcache: list replicas: %w", err)
	}
	out := make(map[string]bool, len(info.State.Subjects))
	for subject := range info.State.Subjects {
		out[strings.TrimPrefix(subject, presencePrefix)] = true
	}
	return out, nil
}

// registered reports whether the replica's presence key holds a live entry (not a
// deletion marker, and not expired), as the stream's leader has it.
func (c *Cache) registered(ctx context.Context, id string) (bool, error) {
	m, ok, err := eventstore.GetFromLeader(ctx, c.js, presenceStream, eventstore.MsgRequest{LastFor: presencePrefix + id})
	if err != nil || !ok {
		return false, err
	}
	if len(m.Header) == 0 {
		return true, nil
	}
	h, err := nats.DecodeHeadersMsg(m.Header)
	if err != nil {
		return false, fmt.Errorf("authcache: read replica %s: %w", id, err)
	}
	op := h.Get(kvOperation)
	return op != "DEL" && op != "PURGE", nil
}

// Names of the presence bucket's stream and subjects, as NATS KV lays them out.
const (
	presenceStream = "KV_" + PresenceBucket
	presencePrefix = "$KV." + PresenceBucket + "."
	kvOperation    = "KV-Operation"
)

// Stats reports the counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(), Fenced: c.fenced.Load()}
}
