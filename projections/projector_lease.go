package projections

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/keyledger/keyledger/eventstore/lease"
)

// A leased projector runs only while it holds the lease, so that one replica of a
// cluster projects and the others stand by (and take over when its entry expires).

// projectorLease is a lease that makes one replica the active projector. Its
// Status().Revision right after TryAcquire holds is the tenure's fencing token.
type projectorLease interface {
	TryAcquire(ctx context.Context) (bool, error)
	Renew(ctx context.Context) error
	Release(ctx context.Context) error
	Status() lease.LeaseStatus
}

// WithLease makes the projector run only while it holds lease, renewing it every
// renewEvery (a quarter of the lease's TTL, say, so that three renewals in a row may
// fail before it expires). Replicas without the lease try to take it every pollEvery,
// and so take over at most pollEvery after the holder's entry expires; meanwhile their
// read-your-writes waits poll the checkpoint.
func (p *Projector) WithLease(lease projectorLease, renewEvery, pollEvery time.Duration) *Projector {
	p.lease, p.renewEvery, p.pollEvery = lease, renewEvery, pollEvery
	return p
}

// standbyLog says once that this replica stands by, and again when the holder changes,
// instead of on every poll; likewise for failed tries (NATS unreachable), which it
// repeats only every standbyErrorEvery tries.
type standbyLog struct {
	log      *slog.Logger
	logged   bool
	holder   string
	failures int
}

// standbyErrorEvery is how many failed tries in a row pass between two warnings.
const standbyErrorEvery = 40

func (s *standbyLog) failed(err error) {
	if s.failures%standbyErrorEvery == 0 {
		s.log.Warn("projector lease: cannot reach it", "err", err, "tries", s.failures+1)
	}
	s.failures++
}

func (s *standbyLog) note(st lease.LeaseStatus) {
	s.failures = 0
	if s.logged && (st.Holder == "" || st.Holder == s.holder) {
		return
	}
	holder := st.Holder
	if holder == "" {
		holder = "unknown (expiring)"
	}
	s.log.Info("projector standing by: another replica holds the lease", "holder", holder, "revision", st.Revision)
	s.logged, s.holder = true, st.Holder
}

func (s *standbyLog) reset() { s.logged, s.holder, s.failures = false, "", 0 }

// runLeased projects until ctx ends, the lease is lost or a newer holder fences this
// one off, then gives the lease up.
func (p *Projector) runLeased(ctx context.Context) {
	st := p.lease.Status()
	p.fence = st.Revision
	p.log.Info("projector lease acquired: projecting", "holder", st.Holder, "revision", st.Revision)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var renewing sync.WaitGroup
	renewing.Go(func() { p.renew(lctx, cancel) })
	if err := p.runLoop(lctx); err != nil {
		p.log.Warn("projector lease lost: fenced off by a newer holder; standing by", "err", err)
	}
	// The renewal must have stopped before the release: a renewal after it would
	// take the lease back for a projector that no longer runs.
	cancel()
	renewing.Wait()
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	if err := p.lease.Release(rctx); err != nil {
		p.log.Warn("release projector lease", "err", err)
	}
}

// renew keeps the lease every renewEvery until ctx ends; when a renewal fails it
// stops the tenure (stop). A renewal that merely timed out stops it too: the replica
// stands by and, if its entry is still there, takes it back on its next try. Keeping
// on projecting would be safe (the fence refuses a holder that lost the lease) but
// would leave a replica that cannot reach NATS looking like the holder.
func (p *Projector) renew(ctx context.Context, stop context.CancelFunc) {
	t := time.NewTicker(p.renewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Bounded, so that a renewal stuck on a NATS request is noticed before the
		// entry expires under it.
		rctx, cancel := context.WithTimeout(ctx, 2*p.renewEvery)
		err := p.lease.Renew(rctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			p.log.Warn("projector lease lost: standing by", "err", err)
			stop()
			return
		}
	}
}
