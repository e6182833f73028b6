package projections

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/domain/gather"
)

// sharedReads gathers one kind of snapshot read per organization (reveals' and
// restored secrets'): while one read of an organization is under way, the reads asked
// meanwhile wait, and the next read answers them all in one statement (read, at most
// max asks). Each read was a round trip of its own with the scope's statement, the
// checkpoint's lookup and a plan; at 32 clients one statement now answers several. A
// read alone still runs at once, and every read begins after each ask it answers, as a
// read of its own would. newReadModels makes each with its bound and its statement.
type sharedReads[A sharedAsk] struct {
	max  int
	read func(ctx context.Context, db *store, orgID string, asks []A) error

	groups gather.Groups[A]
	// reads counts the statements run, so that a test can see them shared.
	reads atomic.Int64
}

// sharedAsk is one caller's read: an ask type embeds pending, which its statement
// answers.
type sharedAsk interface {
	finish(err error)
	wait(ctx context.Context) error
}

// pending is the answer an ask waits for: done is closed once the statement that read
// for it ended, err its failure.
type pending struct {
	done chan struct{}
	err  error
}

func newPending() pending { return pending{done: make(chan struct{})} }

// finish records err, if any, and lets the asker go.
func (p *pending) finish(err error) {
	if err != nil {
		p.err = err
	}
	close(p.done)
}

// wait waits for the answer, or for ctx to end first.
func (p *pending) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sharedReadTimeout bounds one shared read: it answers every caller waiting on it, so
// no single caller's context may end it (each stops waiting at its own).
const sharedReadTimeout = 5 * time.Second

// ask queues a and waits for its answer. The first ask of an organization with no
// read under way starts a goroutine that reads for the queue until it is empty, under
// ctx without its cancellation (no caller's end ends a read that others wait for).
func (g *sharedReads[A]) ask(ctx context.Context, db *store, orgID string, a A) error {
	g.groups.Ask(orgID, a, g.max, g.reader(context.WithoutCancel(ctx), db, orgID))
	return a.wait(ctx)
}

// reader answers asks of orgID with one statement each call.
func (g *sharedReads[A]) reader(base context.Context, db *store, orgID string) func([]A) {
	return func(asks []A) {
		ctx, cancel := context.WithTimeout(base, sharedReadTimeout)
		err := g.read(ctx, db, orgID, asks)
		cancel()
		g.reads.Add(1)
		for _, a := range asks {
			a.finish(err)
		}
	}
}
