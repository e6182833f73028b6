package projections

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keyledger/keyledger/eventstore/lease"
)

// Progress is how far this process knows the read models are, and how its live
// projector fares: read-your-writes waiting (WaitFor, Checkpoint), a stall
// (ProjectionStall) and the projector's lease (ProjectorLease). The projector reports
// into it; the API's consistency waits, /readyz and /metrics read it.
type Progress struct {
	*store

	mu       sync.Mutex
	applied  uint64
	advance  chan struct{}
	lastPoll time.Time
	// stall is set while this process's live projector cannot advance.
	stall *Stall
	// lease is the lease this process's live projector runs under, if any.
	lease leaseStatus
}

// Checkpoint is the last stream sequence the read models reflect.
func (db *Progress) Checkpoint(ctx context.Context) (uint64, error) {
	return db.checkpoint(ctx)
}

// notify records that the read models reached seq and wakes waiters.
func (db *Progress) notify(seq uint64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if seq <= db.applied {
		return
	}
	db.applied = seq
	close(db.advance)
	db.advance = make(chan struct{})
}

// pollInterval is how often waiters ask Postgres for the checkpoint.
const pollInterval = 20 * time.Millisecond

// claimPoll lets one waiter at a time ask Postgres: however many requests wait, the
// process reads the checkpoint at most once per poll interval.
func (db *Progress) claimPoll() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	if time.Since(db.lastPoll) < pollInterval {
		return false
	}
	db.lastPoll = time.Now()
	return true
}

// WaitFor returns once the read models reflect stream sequence seq, or when ctx ends.
// A projector in this process wakes it at once; otherwise (another replica projects)
// it polls the checkpoint.
func (db *Progress) WaitFor(ctx context.Context, seq uint64) error {
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	for {
		db.mu.Lock()
		applied, advance := db.applied, db.advance
		db.mu.Unlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-advance:
		case <-poll.C:
			if !db.claimPoll() {
				continue // another waiter just asked; its answer wakes us too
			}
			cp, err := db.Checkpoint(ctx)
			if err != nil {
				return err
			}
			db.notify(cp)
		case <-ctx.Done():
			return fmt.Errorf("wait for projection of %d (at %d): %w", seq, applied, ctx.Err())
		}
	}
}

// leaseStatus is what a projector's lease tells about itself.
type leaseStatus interface {
	Status() lease.LeaseStatus
}

// LeaseStatus is what ProjectorLease reports (eventstore/lease's). The alias lets a
// consumer that must not import NATS packages (httpapi) name it.
type LeaseStatus = lease.LeaseStatus

// ProjectorLease reports the lease that this process's live projector runs under: who
// holds it, whether this process does, and when it was last renewed as far as this
// process has seen. false when the projector runs without a lease, or none runs.
func (db *Progress) ProjectorLease() (LeaseStatus, bool) {
	db.mu.Lock()
	l := db.lease
	db.mu.Unlock()
	if l == nil {
		return lease.LeaseStatus{}, false
	}
	return l.Status(), true
}

func (db *Progress) reportLease(l leaseStatus) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.lease = l
}
