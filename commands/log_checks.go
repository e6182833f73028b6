package commands

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/domain/gather"
	"github.com/keyledger/keyledger/eventstore"
)

// Log checks of read-model copies, shared. A reveal (or an update) decided on the read
// models' copy of a secret first asks the log whether it holds an event of the secret
// after the checkpoint the copy reflects (RecordedAfter): a request to the log server
// per reveal. Concurrent checks of one organization's secrets now share one look at
// the log: while one is under way, the checks asked meanwhile wait, and the next look
// lists every secret of the organization with an event after the lowest checkpoint
// among them (eventstore.Store.ChangedAfter: a request per such secret, plus one; at
// a reveal's checkpoint, near the log's head, usually none). Each check is answered
// from that list by its own checkpoint. A look begins after every check it answers
// was asked, so after the read of every copy it vouches for, as a look of its own
// would. When too many secrets changed, or the look fails, or the log is a cluster's,
// each check asks the log on its own as before.

// maxCheckAsks bounds the checks one look answers.
const maxCheckAsks = 256

// maxChangedSecrets bounds the secrets a look lists before it gives up on sharing.
const maxChangedSecrets = 64

// logCheckTimeout bounds one shared look: it answers every check waiting on it, so no
// single caller's context may end it (each stops waiting at its own).
const logCheckTimeout = 5 * time.Second

// changeLog is what the shared checks read: eventstore.Store's ChangedAfter, and
// RecordedAfter for a check on its own.
type changeLog interface {
	RecordedAfter(ctx context.Context, agg eventstore.Aggregate, after uint64) (bool, error)
	ChangedAfter(ctx context.Context, orgID, aggType string, after uint64, max int) (map[string]uint64, bool, error)
}

// logChecks gathers each organization's checks. The zero value is ready to use.
type logChecks struct {
	groups gather.Groups[*checkAsk]
	// looks counts the shared looks made, so that a test can see checks share them.
	looks atomic.Int64
}

// checkAsk is one check and, once done is closed, its answer.
type checkAsk struct {
	id    string
	after uint64
	done  chan struct{}

	newer bool
	err   error
}

// confirmedCopy reads a read-model copy of agg with read (bounded by
// snapshotReadTimeout) and returns it when the log holds no event of agg after the
// checkpoint the copy reflects: the copy is then agg's current state. ok is false when
// the copy cannot be used (none, a failed read, or a newer event); the caller then
// reads the log, which says what went wrong, if anything did. The one rule reveals and
// restored secrets decide by.
func confirmedCopy[T any](ctx context.Context, cl *cachedLog, agg eventstore.Aggregate,
	read func(context.Context) (copy T, checkpoint uint64, found bool, err error)) (T, bool) {
	c, _, ok := confirmedCopyFrom(ctx, cl, agg, 0, read)
	return c, ok
}

// confirmedCopyFrom is confirmedCopy with the look at the log begun together with the
// read, from low: a checkpoint the read models are known to have reached already (an
// earlier copy's), so that the copy, read after, reflects at least low. No event of
// agg after low then means none after the copy's own checkpoint either, and the copy
// is current as of the look. When the look finds one, or the copy is older than low
// (the read models were switched to a rebuilt schema), the copy is checked against its
// own checkpoint. low 0 (nothing known yet) reads first and looks after.
// It also returns the copy's checkpoint, the next low.
func confirmedCopyFrom[T any](ctx context.Context, cl *cachedLog, agg eventstore.Aggregate, low uint64,
	read func(context.Context) (copy T, checkpoint uint64, found bool, err error)) (T, uint64, bool) {
	var zero T
	type look struct {
		newer bool
		err   error
	}
	var early chan look
	if low > 0 {
		early = make(chan look, 1)
		go func() {
			newer, err := cl.recordedAfterShared(ctx, agg, low)
			early <- look{newer, err}
		}()
	}
	sctx, cancel := context.WithTimeout(ctx, snapshotReadTimeout)
	c, checkpoint, found, err := read(sctx)
	cancel()
	if early != nil {
		l := <-early // bounded by ctx (recordedAfterShared)
		if err == nil && found && checkpoint >= low && l.err == nil && !l.newer {
			return c, checkpoint, true
		}
	}
	if err != nil || !found {
		return zero, 0, false
	}
	if newer, err := cl.recordedAfterShared(ctx, agg, checkpoint); err != nil || newer {
		return zero, checkpoint, false
	}
	return c, checkpoint, true
}

// recordedAfterShared tells whether the log holds an event of secret agg after
// sequence after, as RecordedAfter does, in a look shared with the other checks of
// agg's organization asked meanwhile.
func (cl *cachedLog) recordedAfterShared(ctx context.Context, agg eventstore.Aggregate, after uint64) (bool, error) {
	a := &checkAsk{id: agg.ID, after: after, done: make(chan struct{})}
	cl.checks.ask(context.WithoutCancel(ctx), cl.tailLog, agg.OrgID, a)
	select {
	case <-a.done:
		return a.newer, a.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// ask queues a; the first ask of an organization with no look under way starts a
// goroutine that looks for the queue until it is empty, under base (no caller's
// cancellation ends a look that others wait for).
func (g *logChecks) ask(base context.Context, log changeLog, orgID string, a *checkAsk) {
	g.groups.Ask(orgID, a, maxCheckAsks, func(asks []*checkAsk) {
		ctx, cancel := context.WithTimeout(base, logCheckTimeout)
		g.look(ctx, log, orgID, asks)
		cancel()
		for _, a := range asks {
			close(a.done)
		}
	})
}

// look answers asks with one listing of the organization's changed secrets, or each
// on its own when the listing says nothing.
func (g *logChecks) look(ctx context.Context, log changeLog, orgID string, asks []*checkAsk) {
	from := asks[0].after
	for _, a := range asks[1:] {
		from = min(from, a.after)
	}
	if len(asks) > 1 {
		g.looks.Add(1)
		last, complete, err := log.ChangedAfter(ctx, orgID, domain.AggregateSecret, from, maxChangedSecrets)
		if err == nil && complete {
			for _, a := range asks {
				a.newer = last[a.id] > a.after
			}
			return
		}
	}
	for _, a := range asks {
		a.newer, a.err = log.RecordedAfter(ctx, secretAggregate(orgID, a.id), a.after)
	}
}
