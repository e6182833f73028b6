package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// Group commit of the writers of one secret (issue 11, hot update). With SyncAlways
// every message costs one fsync inside the stream's single write loop, so writers
// who take turns one message each are bounded by 1 / fsync latency. Instead, while one
// writer's message is being stored, the writers that queue behind it are decided by
// the next leader, in order, each on the state the previous decision leaves (so
// expected_version and "an unchanged value is no new version" mean what they mean
// serially), and all their events go out as one message under one expected sequence
// (eventstore.AppendShared). Each writer gets its own answer; a refused one its own
// error, without spoiling the others. A lost race (another replica wrote) fails the
// writers whose answers depended on the message, and their retry loops decide again.
//
// Only writes without an Idempotency-Key join: a keyed write carries its own
// message id, which de-duplicates that one request, and must find its first result
// in the log after a crash; it keeps taking the secret's turn and its own message.

// maxGroupWriters bounds the decisions one leader makes for one message, beside the
// message's own bounds (eventstore.MaxSharedEvents, MaxSharedBytes).
const maxGroupWriters = 128

// groupLeadTimeout bounds a leader's reads and publish, which run for every writer of
// its group and so follow none of their contexts.
const groupLeadTimeout = 30 * time.Second

// writeQueue is a secret's writers waiting for a group. The zero value is ready.
type writeQueue struct {
	mu      sync.Mutex
	waiting []*groupedWrite
	// leading says a leader is deciding or publishing; then waiting[0], if any, is
	// the next leader.
	leading bool
}

// groupedWrite is one writer of a group: its decision, and then its answer.
type groupedWrite struct {
	ctx    context.Context
	actor  domain.Actor
	decide func(ctx context.Context, s *domain.Secret) ([]domain.Event, error)
	// snapshots, if set, is where the leader may restore the secret from when the
	// cache does not hold it (restoreSecret).
	snapshots secretSnapshots
	// wake gets one value: the answer is in, or lead is set.
	wake chan struct{}
	lead bool

	// The leader's notes while deciding: events decided, and whether the decision
	// saw events of the group not yet stored (its answer then stands or falls with
	// the message).
	events  []domain.Event
	pending bool

	// The answer: the writer's events as recorded (none when it changed nothing) and
	// the secret as its decision left it, or err.
	recs  eventstore.Appended
	state *domain.Secret
	err   error
}

// QueuedWriters is how many writers wait for a group (not counting those being
// decided or published): a gauge for diagnostics and tests.
func (h *UpdateSecretHandler) QueuedWriters() int {
	if cl, ok := h.log.(*cachedLog); ok {
		return int(cl.queuedWriters.Load())
	}
	return 0
}

// writeSecret runs decide for one writer of a secret, in a group, and returns its
// answer in w (recs, state, err).
func (cl *cachedLog) writeSecret(ctx context.Context, orgID, secretID string, actor domain.Actor, snapshots secretSnapshots,
	decide func(ctx context.Context, s *domain.Secret) ([]domain.Event, error)) *groupedWrite {
	w := &groupedWrite{ctx: ctx, actor: actor, decide: decide, snapshots: snapshots, wake: make(chan struct{}, 1)}
	e := cl.secrets.ref(secretAggregate(orgID, secretID))
	defer cl.secrets.unref(e)
	q := &e.writes
	q.mu.Lock()
	q.waiting = append(q.waiting, w)
	cl.queuedWriters.Add(1)
	if q.leading {
		q.mu.Unlock()
		// Once queued, the write is a leader's to decide: waiting does not follow ctx,
		// or a cancelled writer would strand the lead. The leader checks ctx before
		// deciding, and a group is bounded (groupLeadTimeout).
		<-w.wake
		if !w.lead {
			return w
		}
	} else {
		q.leading = true
		q.mu.Unlock()
	}
	cl.leadWrites(ctx, e)
	return w
}

// leadWrites takes the secret's turn, decides and publishes the writers queued up to
// the bounds (the leader is the first of them), answers them, and passes the lead to
// the first writer still waiting, so that nobody decides for others longer than one
// message.
func (cl *cachedLog) leadWrites(ctx context.Context, e *cachedAggregate[*domain.Secret]) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupLeadTimeout)
	defer cancel()
	// Other commands on the secret (keyed writes, deletes, reveals) take the same
	// turn; the writers queue behind it meanwhile. A turn not given back within the
	// lead's time answers the queued writers with that, as acquire answers one.
	var turnErr error
	select {
	case e.turn <- struct{}{}:
	case <-ctx.Done():
		turnErr = ctx.Err()
	}
	q := &e.writes
	q.mu.Lock()
	n := min(len(q.waiting), maxGroupWriters)
	batch := q.waiting[:n:n]
	q.waiting = remainingWriters(q.waiting, n)
	cl.queuedWriters.Add(-int64(n))
	q.mu.Unlock()

	decided := len(batch)
	if turnErr != nil {
		for _, w := range batch {
			w.err = fmt.Errorf("wait for the secret's turn: %w", turnErr)
		}
	} else {
		decided = cl.writeGroup(ctx, e, batch)
		<-e.turn
	}

	rest := batch[decided:]
	q.mu.Lock()
	if len(rest) > 0 {
		q.waiting = append(rest[:len(rest):len(rest)], q.waiting...)
		cl.queuedWriters.Add(int64(len(rest)))
	}
	var next *groupedWrite
	if len(q.waiting) > 0 {
		next = q.waiting[0]
		next.lead = true
	} else {
		q.leading = false
	}
	q.mu.Unlock()
	for _, w := range batch[1:decided] {
		w.wake <- struct{}{}
	}
	if next != nil {
		next.wake <- struct{}{}
	}
}

// remainingWriters is waiting without its first n writers, in an array of its own.
// waiting[n:] would keep the whole array, and with it the writers taken (their
// decisions, which hold the request's values in plaintext, their answers and a copy
// of the secret each), reachable from the cache's entry until the secret's next write.
func remainingWriters(waiting []*groupedWrite, n int) []*groupedWrite {
	if n == len(waiting) {
		return nil
	}
	return append([]*groupedWrite(nil), waiting[n:]...)
}

// writeGroup decides the batch's writers in order, with the secret's turn held,
// publishes their events as one message and fills in their answers. It returns how
// many it decided: the rest did not fit in the message and wait for the next one.
func (cl *cachedLog) writeGroup(ctx context.Context, e *cachedAggregate[*domain.Secret], batch []*groupedWrite) int {
	now := time.Now()
	if !e.loaded && !e.stale {
		cl.restoreSecret(ctx, e, batch[0].snapshots, now)
	}
	if !e.loaded || e.stale {
		if err := cl.secrets.refresh(ctx, cl.tailLog, e, now); err != nil {
			for _, w := range batch {
				w.err = fmt.Errorf("load secret: %w", err)
			}
			return len(batch)
		}
	}
	base, work := e.state.Clone(), e.state.Clone()
	version, decided, events, size := e.version, len(batch), 0, 0
	var parts []eventstore.Pending
	for i, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.err = err
			continue
		}
		w.pending = len(parts) > 0
		evs, err := w.decide(w.ctx, work)
		if err == nil && len(evs) > 0 {
			var n int
			if n, err = eventstore.EventsSize(evs); err == nil && len(parts) > 0 &&
				(size+n > eventstore.MaxSharedBytes || events+len(evs) > eventstore.MaxSharedEvents) {
				decided = i
				break
			}
			size, events = size+n, events+len(evs)
		}
		if err != nil {
			w.err = err
			continue
		}
		w.events = evs
		if len(evs) == 0 {
			continue
		}
		parts = append(parts, eventstore.Pending{
			Aggregate: e.agg, ExpectedSeq: e.lastSeq, Position: version + 1, Events: evs, Actor: w.actor,
		})
		version += len(evs)
		// The next decision sees this one's events; their time is provisional (a
		// decision does not read it) and the answers are rebuilt from the records.
		for _, ev := range evs {
			work.Apply(domain.Recorded{Time: now, Event: ev})
		}
	}
	batch = batch[:decided]
	out, err := cl.publishGroup(ctx, parts)
	if err != nil {
		if errors.Is(err, eventstore.ErrVersionConflict) {
			e.stale = true
		}
		for _, w := range batch {
			// A decision that saw the group's unstored events falls with them,
			// refusal included: a 409 against a version that never landed would be
			// an answer about a state that does not exist.
			if w.pending || (w.err == nil && len(w.events) > 0) {
				w.err = err
			}
		}
	} else if len(out) > 0 {
		var all eventstore.Appended
		for _, recs := range out {
			all = append(all, recs...)
		}
		cl.appended(ctx, e, all, false)
	}
	// Each answer is the secret as stored up to its own decision: the state before
	// the group plus the records of the decisions up to it.
	s, j := base, 0
	for _, w := range batch {
		if w.err != nil {
			continue
		}
		if len(w.events) > 0 {
			w.recs = out[j]
			j++
			for _, r := range w.recs {
				s.Apply(r)
			}
		}
		w.state = s.Clone()
	}
	return decided
}

// publishGroup appends the decisions: one alone as it always was, several as one
// shared message.
func (cl *cachedLog) publishGroup(ctx context.Context, parts []eventstore.Pending) ([]eventstore.Appended, error) {
	switch len(parts) {
	case 0:
		return nil, nil
	case 1:
		recs, err := cl.tailLog.Append(ctx, parts[0])
		if err != nil {
			return nil, err
		}
		return []eventstore.Appended{recs}, nil
	}
	return cl.tailLog.AppendShared(ctx, parts)
}

// restoreSecret loads e, which the cache does not hold yet, from the read models' copy
// of the secret instead of its history, when the log holds no event of the secret
// after the checkpoint the copy reflects: the copy is then the secret's current state,
// as replaying its events would leave it, apart from the earlier versions of its
// values (domain.RestoreSecret), and its last event's sequence is the one the next
// append expects, so that a write the copy missed after all still fails as a
// conflict and reloads from the log. It leaves e unloaded when the copy cannot be
// used (no snapshots, no row, a newer event, a failed read); the caller then reads
// the log, which says what went wrong, if anything did.
//
// A restored entry's idempotency marks were not read: it is marked as having dropped
// some (marksCut), so that a command with an Idempotency-Key checks its key against
// the whole history in the log, as it does for a secret with more marks than are kept.
func (cl *cachedLog) restoreSecret(ctx context.Context, e *cachedAggregate[*domain.Secret], snaps secretSnapshots, now time.Time) {
	if snaps == nil {
		return
	}
	type restored struct {
		st      domain.SecretState
		lastSeq uint64
	}
	r, ok := confirmedCopy(ctx, cl, e.agg, func(ctx context.Context) (restored, uint64, bool, error) {
		st, lastSeq, checkpoint, found, err := snaps.SecretSnapshot(ctx, e.agg.OrgID, e.agg.ID)
		found = found && lastSeq > 0 && lastSeq <= checkpoint && st.Version > 0
		return restored{st, lastSeq}, checkpoint, found, err
	})
	if !ok {
		return
	}
	e.state, e.lastSeq, e.version = domain.RestoreSecret(e.agg.OrgID, e.agg.ID, r.st), r.lastSeq, r.st.Version
	e.marks, e.marksCut = nil, true
	e.loaded, e.stale, e.checked = true, false, now
}
