package projections

import "time"

// stallAfter is how many attempts in a row must fail, without an event applied in
// between, before the projection counts as stalled. One failure is routine (a
// rebuild switched schemas under the follower, NATS restarted); three in a row, over
// about a second of backoff, is not.
const stallAfter = 3

// Stall describes a live projection that cannot advance. Reason is the last error's
// text, for operators' logs only: it is never shown on a public endpoint.
type Stall struct {
	// Seq is the first stream sequence the projection cannot get past.
	Seq      uint64
	Reason   string
	Since    time.Time
	Attempts int
}

// ProjectionStall reports whether the projector of this process is stalled, and
// where. A stalled projection is a failing /readyz and a metric, never silence.
func (db *Progress) ProjectionStall() (Stall, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.stall == nil {
		return Stall{}, false
	}
	return *db.stall, true
}

func (db *Progress) setStall(s Stall) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.stall = &s
}

func (db *Progress) clearStall() {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.stall = nil
}
