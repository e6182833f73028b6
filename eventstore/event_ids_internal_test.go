package eventstore

import (
	"crypto/rand"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

type countingReader struct {
	r     io.Reader
	reads atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.r.Read(p)
}

// Event ids made at the same time by many appends at once are all different, each
// append's in order, and they draw on the entropy source in bulk: one read per append
// was 4 KiB of crypto/rand each (the source ulid.Monotonic buffers was made per append).
func TestEventIDsAreUniqueAndDrawEntropyInBulk(t *testing.T) {
	src := &countingReader{r: rand.Reader}
	g := &eventIDs{source: src}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	const appends, perAppend = 1000, 3
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for range appends / 8 {
				ids := make([]string, perAppend)
				if err := g.fill(now, ids); err != nil {
					t.Error(err)
					return
				}
				for i, id := range ids {
					u, err := ulid.ParseStrict(id)
					if err != nil || u.Time() != ulid.Timestamp(now) {
						t.Errorf("id %q: %v, time %d", id, err, u.Time())
					}
					if i > 0 && ids[i-1] >= id {
						t.Errorf("ids of one append out of order: %v", ids)
					}
				}
				mu.Lock()
				for _, id := range ids {
					if seen[id] {
						t.Errorf("id %s given twice", id)
					}
					seen[id] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != appends*perAppend {
		t.Fatalf("%d ids, want %d", len(seen), appends*perAppend)
	}
	// 3,000 ids in one millisecond: 10 bytes to start, then 4 bytes a step (a random
	// increment), through a 4 KiB buffer.
	if n := src.reads.Load(); n > 8 {
		t.Fatalf("%d reads of the entropy source for %d appends, want a few", n, appends)
	}
}
