package commands

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// tailLog is the event log as the aggregate cache needs it: whole histories, a
// history up to a sequence (an idempotent replay's answer) and the events after a
// sequence (what a cached aggregate is missing).
type tailLog interface {
	eventLog
	historyLog
	LoadAfter(ctx context.Context, agg eventstore.Aggregate, after uint64) (eventstore.Loaded, error)
	RecordedAfter(ctx context.Context, agg eventstore.Aggregate, after uint64) (bool, error)
	ChangedAfter(ctx context.Context, orgID, aggType string, after uint64, max int) (map[string]uint64, bool, error)
	AppendShared(ctx context.Context, parts []eventstore.Pending) ([]eventstore.Appended, error)
}

// CacheSize is how many organizations and users the handlers keep in memory, least
// recently used first out.
const CacheSize = 20_000

// SecretCacheSize is how many secrets they keep. A secret costs some 1.5 KB cached,
// and one not cached is restored from the read models in one query (restoreSecret):
// at 20,000, the random writes of the bench's last phases over 100,000 secrets kept
// some 30 MB of secrets that were written once. The secrets that matter to a cache,
// those written again and again (a hot secret's queue of writers, its group commit),
// are few.
const SecretCacheSize = 4_096

// maxMarks bounds the idempotency marks kept with one cached aggregate. Past it the
// oldest go, and a request with a key that matches none of those kept is checked
// against the whole history in the log instead (the old, slow, always-correct way).
const maxMarks = 1024

// cachedLog is the event log with the recently used aggregates kept in memory, so
// that a command's cost does not grow with its aggregate's history (DESIGN.md,
// "Performance"). A cached aggregate is kept with the stream sequence of its last
// event; using it reads only the events after that sequence, if any, so that writes
// by other replicas (or by code that bypasses the cache) are never missed. A write
// that trusts the cache without reading (see secretTurn) is checked by its append's
// expected sequence, and a conflict reloads.
//
// Each cached aggregate is also its commands' queue: a command on a secret holds the
// secret's turn from load to append, so that concurrent writers in this process wait
// for each other instead of racing to a version conflict.
type cachedLog struct {
	tailLog
	orgs    *aggregateCache[*domain.Organization]
	secrets *aggregateCache[*domain.Secret]
	users   *aggregateCache[*domain.User]
	// queuedWriters counts the writers waiting for a group (QueuedWriters).
	queuedWriters atomic.Int64
	// checks shares the log checks of read-model copies (log_checks.go).
	checks logChecks
}

// newCachedLog wraps log, keeping up to size organizations and users and
// secretSize secrets. The cache's ages and the idempotency window are measured on
// the wall clock, as Meta.replayed measures them.
func newCachedLog(log tailLog, size, secretSize int) *cachedLog {
	return &cachedLog{
		tailLog: log,
		orgs: newAggregateCache(size, func(a eventstore.Aggregate) *domain.Organization { return domain.NewOrganization(a.ID) },
			(*domain.Organization).Apply, (*domain.Organization).Clone),
		secrets: newAggregateCache(secretSize, func(a eventstore.Aggregate) *domain.Secret { return domain.NewSecret(a.OrgID, a.ID) },
			(*domain.Secret).Apply, (*domain.Secret).Clone),
		users: newAggregateCache(size, func(a eventstore.Aggregate) *domain.User { return domain.NewUser(a.ID) },
			(*domain.User).Apply, func(u *domain.User) *domain.User { c := *u; return &c }),
	}
}

// aggregateCache keeps up to size aggregates of one kind, least recently used first
// out; an aggregate a command is using is never evicted.
type aggregateCache[T any] struct {
	fresh func(eventstore.Aggregate) T
	apply func(T, domain.Recorded)
	clone func(T) T
	size  int

	mu    sync.Mutex
	byKey map[string]*list.Element // of *cachedAggregate[T]
	lru   *list.List
}

func newAggregateCache[T any](size int, fresh func(eventstore.Aggregate) T, apply func(T, domain.Recorded), clone func(T) T) *aggregateCache[T] {
	return &aggregateCache[T]{fresh: fresh, apply: apply, clone: clone, size: max(size, 1), byKey: map[string]*list.Element{}, lru: list.New()}
}

// cachedAggregate is one aggregate in memory. Its fields after turn belong to
// whoever holds the turn.
type cachedAggregate[T any] struct {
	agg eventstore.Aggregate
	// turn has room for one: holding it is this aggregate's turn.
	turn chan struct{}
	// users counts the commands that acquired it and have not released it (guarded
	// by the cache's mu): such an entry is not evicted.
	users int
	// mu guards the fields below in shared use (sharedSnapshot), where readers do
	// not take turns; a cache used with turns leaves them to the turn's holder.
	mu sync.Mutex

	loaded  bool
	stale   bool      // an append lost a race: read the log before trusting state again
	checked time.Time // when the entry was last brought up to date with the log
	state   T
	lastSeq uint64
	version int
	// marks are the events of the last IdempotencyWindow that carry an idempotency
	// mark, oldest first; marksCut says that older ones in the window were dropped.
	marks    []domain.Recorded
	marksCut bool
	// reading is the shared read of the log under way, queued the one that the
	// callers who arrived meanwhile wait for (catchUpShared).
	reading, queued *sharedRead

	// writes queues the writers of a secret for group commit (secret_group.go);
	// unused for other kinds.
	writes writeQueue
}

// acquire waits for the aggregate's turn (or ctx) and returns its entry, which the
// caller must give back with release.
func (c *aggregateCache[T]) acquire(ctx context.Context, agg eventstore.Aggregate) (*cachedAggregate[T], error) {
	e := c.ref(agg)
	select {
	case e.turn <- struct{}{}:
		return e, nil
	case <-ctx.Done():
		c.unref(e)
		return nil, ctx.Err()
	}
}

// release ends the holder's turn.
func (c *aggregateCache[T]) release(e *cachedAggregate[T]) {
	<-e.turn
	c.unref(e)
}

func (c *aggregateCache[T]) evictLocked() {
	el := c.lru.Back()
	for c.lru.Len() > c.size && el != nil {
		prev := el.Prev()
		if e := el.Value.(*cachedAggregate[T]); e.users == 0 {
			c.lru.Remove(el)
			delete(c.byKey, e.agg.Subject())
		}
		el = prev
	}
}

// refresh brings the entry up to date with the log: the whole history the first
// time, then only the events after the last one it holds.
func (c *aggregateCache[T]) refresh(ctx context.Context, log tailLog, e *cachedAggregate[T], now time.Time) error {
	if !e.loaded {
		l, err := log.Load(ctx, e.agg)
		if err != nil {
			return err
		}
		e.state, e.lastSeq, e.version, e.marks, e.marksCut = c.fresh(e.agg), 0, 0, nil, false
		c.take(e, l.Events, now)
		e.loaded, e.stale, e.checked = true, false, now
		return nil
	}
	l, err := log.LoadAfter(ctx, e.agg, e.lastSeq)
	if err != nil {
		return err
	}
	c.take(e, l.Events, now)
	e.stale, e.checked = false, now
	return nil
}

// take applies events recorded after the entry's last sequence.
func (c *aggregateCache[T]) take(e *cachedAggregate[T], recs []domain.Recorded, now time.Time) {
	for _, r := range recs {
		c.apply(e.state, r)
		e.version++
		e.lastSeq = r.Seq
		if !r.Idempotency.IsZero() {
			e.marks = append(e.marks, r)
		}
	}
	drop := 0
	for drop < len(e.marks) && now.Sub(e.marks[drop].Time) > IdempotencyWindow {
		drop++
	}
	if over := len(e.marks) - drop - maxMarks; over > 0 {
		drop += over
		e.marksCut = true
	}
	if drop > 0 {
		e.marks = append(e.marks[:0:0], e.marks[drop:]...)
	}
}

// history is what a command checks an Idempotency-Key against: the entry's marks, or
// the whole history when marks were dropped. full says which.
func (c *aggregateCache[T]) history(ctx context.Context, log tailLog, e *cachedAggregate[T]) ([]domain.Recorded, bool, error) {
	if !e.marksCut {
		return e.marks[:len(e.marks):len(e.marks)], false, nil
	}
	l, err := log.Load(ctx, e.agg)
	if err != nil {
		return nil, false, err
	}
	return l.Events, true, nil
}

// snapshot reads the aggregate up to date and returns a copy of it that stays as it
// is, with its last sequence, version and idempotency history. An entry read from
// the log less than maxAge ago is not read again (0: always read).
func (c *aggregateCache[T]) snapshot(ctx context.Context, log tailLog, agg eventstore.Aggregate, now time.Time, maxAge time.Duration) (state T, events []domain.Recorded, lastSeq uint64, version int, err error) {
	e, err := c.acquire(ctx, agg)
	if err != nil {
		return state, nil, 0, 0, err
	}
	defer c.release(e)
	if !e.loaded || e.stale || now.Sub(e.checked) >= maxAge {
		if err := c.refresh(ctx, log, e, now); err != nil {
			return state, nil, 0, 0, err
		}
	}
	events, _, err = c.history(ctx, log, e)
	if err != nil {
		return state, nil, 0, 0, err
	}
	return c.clone(e.state), events, e.lastSeq, e.version, nil
}

// sharedSnapshot is snapshot without taking the aggregate's turn, for aggregates
// that every command reads and no command holds (organizations, users): the log is
// read outside any lock, so that concurrent commands of one organization do not
// queue behind each other's round trips. Events that another reader applied in the
// meantime are skipped by their sequence (a message's events share one).
func (c *aggregateCache[T]) sharedSnapshot(ctx context.Context, log tailLog, agg eventstore.Aggregate, now time.Time, maxAge time.Duration) (state T, events []domain.Recorded, lastSeq uint64, version int, err error) {
	e := c.ref(agg)
	defer c.unref(e)
	e.mu.Lock()
	fresh := e.loaded && !e.stale && now.Sub(e.checked) < maxAge
	e.mu.Unlock()
	if !fresh {
		if err := c.catchUpShared(ctx, log, e); err != nil {
			return state, nil, 0, 0, err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	events, _, err = c.history(ctx, log, e)
	if err != nil {
		return state, nil, 0, 0, err
	}
	return c.clone(e.state), events, e.lastSeq, e.version, nil
}

// sharedRead is one read of the log that brings a shared entry up to date, and the
// callers waiting for it.
type sharedRead struct {
	done chan struct{}
	err  error
}

// sharedReadTimeout bounds a read made for callers that joined it (catchUpShared): no
// single caller's context may end it.
const sharedReadTimeout = 10 * time.Second

// catchUpShared brings e up to date with the log as of a read that began after the
// call did. A caller that finds no read under way reads itself; one that arrives while
// a read is under way (it may have begun before a change this caller must see: a
// member removed on another replica a moment ago) waits for the next read, which
// begins when that one ends, and which every caller arriving meanwhile shares. Every
// request of an organization read the organization's log: under load, one read now
// answers the requests of a round trip, and a request alone still costs one.
func (c *aggregateCache[T]) catchUpShared(ctx context.Context, log tailLog, e *cachedAggregate[T]) error {
	e.mu.Lock()
	if e.reading == nil {
		r := &sharedRead{done: make(chan struct{})}
		e.reading = r
		e.mu.Unlock()
		r.err = c.catchUp(ctx, log, e, time.Now())
		c.nextSharedRead(context.WithoutCancel(ctx), log, e, r)
		return r.err
	}
	r := e.queued
	if r == nil {
		r = &sharedRead{done: make(chan struct{})}
		e.queued = r
	}
	e.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// nextSharedRead ends read r and starts the one queued meanwhile, if any, on a
// goroutine of its own (its callers wait; the caller that ended r goes on), which goes
// on with the reads queued while it runs. Its reads are bounded by sharedReadTimeout
// under base, which no caller's cancellation ends.
func (c *aggregateCache[T]) nextSharedRead(base context.Context, log tailLog, e *cachedAggregate[T], r *sharedRead) {
	next := e.handOver(r)
	if next == nil {
		return
	}
	// Held until the queued reads are done, as their callers hold it; the caller
	// that ended r still holds it here, so it cannot be evicted in between.
	c.refEntry(e)
	go func() {
		defer c.unref(e)
		for r := next; r != nil; r = e.handOver(r) {
			ctx, cancel := context.WithTimeout(base, sharedReadTimeout)
			r.err = c.catchUp(ctx, log, e, time.Now())
			cancel()
		}
	}()
}

// handOver ends read r: the read queued meanwhile, if any, is under way from now on
// (and returned), and r's callers are woken.
func (e *cachedAggregate[T]) handOver(r *sharedRead) *sharedRead {
	e.mu.Lock()
	next := e.queued
	e.reading, e.queued = next, nil
	e.mu.Unlock()
	close(r.done)
	return next
}

// catchUp reads what the log holds for e after what e holds (all of it the first
// time), outside e's lock, and applies it. Events that another reader applied in the
// meantime are skipped by their sequence (a message's events share one). checked is
// set to started, when the read began.
func (c *aggregateCache[T]) catchUp(ctx context.Context, log tailLog, e *cachedAggregate[T], started time.Time) error {
	e.mu.Lock()
	loaded, after := e.loaded && !e.stale, e.lastSeq
	e.mu.Unlock()
	var l eventstore.Loaded
	var err error
	if loaded {
		l, err = log.LoadAfter(ctx, e.agg, after)
	} else {
		l, err = log.Load(ctx, e.agg)
	}
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !loaded && !e.loaded {
		e.state, e.lastSeq, e.version, e.marks, e.marksCut = c.fresh(e.agg), 0, 0, nil, false
		c.take(e, l.Events, started)
		e.loaded = true
	} else {
		var newer []domain.Recorded
		for _, r := range l.Events {
			if r.Seq > e.lastSeq {
				newer = append(newer, r)
			}
		}
		c.take(e, newer, started)
	}
	e.stale, e.checked = false, started
	return nil
}

// holds reports whether the cache has an entry for agg (loaded, or being loaded by a
// command that holds its turn).
func (c *aggregateCache[T]) holds(agg eventstore.Aggregate) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.byKey[agg.Subject()]
	return ok
}

// ref finds or adds the entry of agg and marks it in use (not evictable).
func (c *aggregateCache[T]) ref(agg eventstore.Aggregate) *cachedAggregate[T] {
	key := agg.Subject()
	c.mu.Lock()
	defer c.mu.Unlock()
	var e *cachedAggregate[T]
	if el, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(el)
		e = el.Value.(*cachedAggregate[T])
	} else {
		e = &cachedAggregate[T]{agg: agg, turn: make(chan struct{}, 1)}
		c.byKey[key] = c.lru.PushFront(e)
		c.evictLocked()
	}
	e.users++
	return e
}

// refEntry marks e, which the caller holds already, in use once more.
func (c *aggregateCache[T]) refEntry(e *cachedAggregate[T]) {
	c.mu.Lock()
	e.users++
	c.mu.Unlock()
}

func (c *aggregateCache[T]) unref(e *cachedAggregate[T]) {
	c.mu.Lock()
	e.users--
	c.mu.Unlock()
}

// organization is loadOrganization through the cache.
func (cl *cachedLog) organization(ctx context.Context, orgID string) (loadedOrg, error) {
	o, events, lastSeq, version, err := cl.orgs.sharedSnapshot(ctx, cl.tailLog, orgAggregate(orgID), time.Now(), 0)
	if err != nil {
		return loadedOrg{}, err
	}
	return loadedOrg{org: o, events: events, lastSeq: lastSeq, eventCount: version}, nil
}

// ownerMaxAge is how stale the owner named in a command's answer may be. The
// owner's name and email are shown, never used to decide (authentication reads users
// on its own path), and reading the owner's log on every command was one more log
// round trip per write.
const ownerMaxAge = 250 * time.Millisecond

// owner is LoadUser through the cache, for the owner named in an answer.
func (cl *cachedLog) owner(ctx context.Context, id string) (*domain.User, error) {
	u, _, _, _, err := cl.users.sharedSnapshot(ctx, cl.tailLog, userAggregate(id), time.Now(), ownerMaxAge)
	return u, err
}

// secretTurn takes a secret's turn and returns it loaded: the command decides on the
// cached aggregate itself and must release the turn (loadedSecret.release) when it
// has appended. trust skips reading the log when the cache holds the secret and no
// append has lost a race on it since: for a write without an Idempotency-Key, whose
// append's expected sequence catches a stale cache (a retried key must see every
// event, so that it finds its first result instead of a duplicate).
// A trusted write may also restore a secret the cache does not hold from snaps, the
// read models' copies, as far as the log confirms them (restoreSecret); nil reads the
// log's history.
func (cl *cachedLog) secretTurn(ctx context.Context, orgID, secretID string, trust, keyed bool, snaps secretSnapshots) (loadedSecret, error) {
	c := cl.secrets
	e, err := c.acquire(ctx, secretAggregate(orgID, secretID))
	if err != nil {
		return loadedSecret{}, err
	}
	if trust && !e.loaded && !e.stale {
		cl.restoreSecret(ctx, e, snaps, time.Now())
	}
	if !trust || !e.loaded || e.stale {
		if err := c.refresh(ctx, cl.tailLog, e, time.Now()); err != nil {
			c.release(e)
			return loadedSecret{}, err
		}
	}
	// Only a request with an Idempotency-Key looks for its key among the events: the
	// others do not read the history that a secret restored from the read models
	// (its marks not at hand) would otherwise load whole.
	var events []domain.Recorded
	var full bool
	if keyed {
		if events, full, err = c.history(ctx, cl.tailLog, e); err != nil {
			c.release(e)
			return loadedSecret{}, err
		}
	}
	return loadedSecret{secret: e.state, events: events, full: full, lastSeq: e.lastSeq, eventCount: e.version, log: cl, turn: e,
		endTurn: sync.OnceFunc(func() { c.release(e) })}, nil
}

// withHistory returns ls with its values' history: a secret restored from the read
// models (restoreSecret) is read from the log again, whole, under the turn ls holds,
// for a decision that needs earlier versions (a rollback).
func (ls loadedSecret) withHistory(ctx context.Context) (loadedSecret, error) {
	if ls.turn == nil || !ls.secret.Partial() {
		return ls, nil
	}
	c, e := ls.log.secrets, ls.turn
	e.loaded = false
	if err := c.refresh(ctx, ls.log.tailLog, e, time.Now()); err != nil {
		return ls, fmt.Errorf("load secret: %w", err)
	}
	events, full, err := c.history(ctx, ls.log.tailLog, e)
	if err != nil {
		return ls, fmt.Errorf("load secret: %w", err)
	}
	ls.secret, ls.events, ls.full, ls.lastSeq, ls.eventCount = e.state, events, full, e.lastSeq, e.version
	return ls, nil
}

// appended moves a held secret past its own append. A duplicate (a retried
// Idempotency-Key whose first append landed) may sit anywhere in the log, so then
// the secret is read from the log instead.
func (cl *cachedLog) appended(ctx context.Context, e *cachedAggregate[*domain.Secret], recs eventstore.Appended, duplicatePossible bool) {
	if duplicatePossible || recs.Seq() <= e.lastSeq {
		if err := cl.secrets.refresh(ctx, cl.tailLog, e, time.Now()); err != nil {
			e.loaded = false
		}
		return
	}
	cl.secrets.take(e, recs, time.Now())
}
