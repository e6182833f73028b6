package eventstore

import (
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// eventIDs gives events their ids: ULIDs of their record time, from one monotonic
// source per store. ulid.Monotonic reads its entropy through a 4 KiB buffer of its own,
// so a source made for each append drew 4 KiB from crypto/rand for every event, one
// getrandom call each: 4.5 % of a reveal's CPU. Shared, one read serves the ids of
// about 400 appends. Within one millisecond the ids count up from a random start by
// random steps (up to 2^32), as ulid.Monotonic's always did within an append: unique
// across goroutines, and ordered as they were made.
type eventIDs struct {
	// source is where the entropy comes from: crypto/rand, unless a test sets it.
	source  io.Reader
	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
}

// fill sets ids to new ULIDs of time now, in order.
func (g *eventIDs) fill(now time.Time, ids []string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.entropy == nil {
		src := g.source
		if src == nil {
			src = rand.Reader
		}
		g.entropy = ulid.Monotonic(src, 0)
	}
	for i := range ids {
		id, err := ulid.New(ulid.Timestamp(now), g.entropy)
		if err != nil {
			// An overflow of the 80 random bits within one millisecond (a start within
			// 2^32 steps of their end): the next millisecond starts afresh.
			return fmt.Errorf("event id: %w", err)
		}
		ids[i] = id.String()
	}
	return nil
}
