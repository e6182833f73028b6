package projections

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// A projector never skips an event: it retries with backoff, and a run of failures
// becomes a stall that /readyz and /metrics show.

// maxRetryBackoff bounds the wait between two attempts: the read models must catch up
// within 5 s of PostgreSQL returning (API.md), so a projector that failed for a long
// outage may not sleep for long once it is over; one attempt a second costs nothing.
const maxRetryBackoff = time.Second

// newRetryBackoff is the projector's schedule between failed attempts: 100 ms, doubling,
// at most maxRetryBackoff (100, 200, 400, 800 ms, then 1 s), without jitter (one
// projector runs per cluster: nobody to collide with), and never giving up.
func newRetryBackoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     100 * time.Millisecond,
		RandomizationFactor: 0,
		Multiplier:          2,
		MaxInterval:         maxRetryBackoff,
	}
	b.Reset()
	return b
}

// ranHealthy says whether the attempt that just ended was healthy even though it
// ended in an error: its follower ran for at least maxRetryBackoff. A failure after
// such a run is a new run of failures and starts the backoff again from its first
// interval; waiting longer would not space attempts any more than the attempt's own
// duration already did. An idle projector (no event to apply, so no progress to
// reset on) used to keep the backoff, and the failure count, of failures long past.
func (p *Projector) ranHealthy() bool {
	return !p.followingSince.IsZero() && time.Since(p.followingSince) >= maxRetryBackoff
}

// failed records a failed attempt and says how long to wait before the next. The
// projector never skips an event it cannot apply: after pgArgs, what is left is
// infrastructure (Postgres down, a permission, a full disk), and skipping would make
// the read models lie. It retries with backoff, forever, and from stallAfter failures
// on it is loud: an ERROR naming the sequence, and a stall that /readyz and /metrics
// report. The first success clears it.
func (p *Projector) failed(err error) time.Duration {
	if p.failures == 0 {
		p.failingSince = time.Now()
		p.retry.Reset()
	}
	p.failures++
	backoff := p.retry.NextBackOff()
	if p.failures < stallAfter {
		p.log.Warn("projector restarting", "seq", p.next, "err", err, "attempt", p.failures, "after", backoff)
		return backoff
	}
	prev, stalled := p.stalled()
	if !stalled || prev.Seq != p.next || (p.failures-stallAfter)%int(time.Minute/maxRetryBackoff) == 0 {
		// Once on stalling, again when it moves, and about once a minute while it lasts.
		p.log.Error("projection stalled: cannot apply event", "seq", p.next, "err", err,
			"attempts", p.failures, "since", p.failingSince, "schema", p.schema)
	} else {
		p.log.Warn("projection still stalled", "seq", p.next, "err", err, "attempt", p.failures, "after", backoff)
	}
	p.setStall(Stall{Seq: p.next, Reason: err.Error(), Since: p.failingSince, Attempts: p.failures})
	return backoff
}

// progressed records that an attempt applied events, which ends a stall.
func (p *Projector) progressed(last uint64) { p.recovered(last) }

// recovered ends a run of failures (events applied up to last, or a healthy run): it
// clears the stall, and the next failure starts the backoff from its first interval.
func (p *Projector) recovered(last uint64) {
	if p.failures == 0 {
		return
	}
	if _, stalled := p.stalled(); stalled {
		p.log.Info("projection recovered", "seq", last, "failed_attempts", p.failures, "since", p.failingSince)
	}
	p.failures = 0
	p.clearStall()
}

// A rebuild's projector (schema set) reports through its logs only: the live read
// models are not stalled because a rebuild is.
func (p *Projector) stalled() (Stall, bool) {
	if p.schema != "" {
		return Stall{Seq: p.next}, p.failures > stallAfter
	}
	return p.db.ProjectionStall()
}

func (p *Projector) setStall(s Stall) {
	if p.schema == "" {
		p.db.setStall(s)
	}
}

func (p *Projector) clearStall() {
	if p.schema == "" {
		p.db.clearStall()
	}
}
