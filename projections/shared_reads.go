package projections

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/domain/gather"
)

// sharedReads gathers one kind of snapshot read per organization (reveals' and
// restored secrets'): while one read of an organization is under way, the reads asked
// meanwhile wait, and the next read answers them all in one statement. Each read was a
// round trip of its own with the scope's statement, the checkpoint's lookup and a
// plan; at 32 clients one statement now answers several. A read alone still runs at
// once, and every read begins after each ask it answers, as a read of its own would.
// The zero value is ready to use.
type sharedReads[A sharedAsk] struct {
	groups gather.Groups[A]
	// reads counts the statements run, so that a test can see them shared.
	reads atomic.Int64
}

// sharedAsk is one caller's read, answered when finish closes it.
type sharedAsk interface {
	// finish records err, if any, and lets the asker go.
	finish(err error)
}

// readAsks answers asks, all of one organization, with one statement.
type readAsks[A sharedAsk] func(ctx context.Context, db *store, orgID string, asks []A) error

// sharedReadTimeout bounds one shared read: it answers every caller waiting on it, so
// no single caller's context may end it (each stops waiting at its own).
const sharedReadTimeout = 5 * time.Second

// ask queues a; the first ask of an organization with no read under way starts a
// goroutine that reads for the queue, at most max a statement, until it is empty,
// under base (no caller's cancellation ends a read that others wait for).
func (g *sharedReads[A]) ask(base context.Context, db *store, orgID string, a A, max int, read readAsks[A]) {
	g.groups.Ask(orgID, a, max, g.reader(base, db, orgID, read))
}

// reader answers asks of orgID with one statement each call.
func (g *sharedReads[A]) reader(base context.Context, db *store, orgID string, read readAsks[A]) func([]A) {
	return func(asks []A) {
		ctx, cancel := context.WithTimeout(base, sharedReadTimeout)
		err := read(ctx, db, orgID, asks)
		cancel()
		g.reads.Add(1)
		for _, a := range asks {
			a.finish(err)
		}
	}
}
