package eventstore

import (
	"context"
	"sync"
)

// diskMark follows how far the log is on disk where the store syncs its writes
// (Options.SyncWrites): the highest sequence a sync after its acknowledgement covered,
// and with it every message before it (a stream stores its messages in order, each
// before it is acknowledged), and the appends whose syncs are under way.
//
// A reader that must not pass on an event before it is on disk (the projector, before
// it commits) asks durable. The event's own writer is usually syncing it at that very
// moment: a sync of the reader's own would begin after the writer's and cost a second
// run of fsyncs for nothing (one of the projector's batches of creates waited half a
// millisecond for it, and every run of fsyncs costs the machine CPU). So the reader
// waits for the syncs under way of appends at or after its event, each of which began
// after the event was stored, and syncs itself only when none is under way.
type diskMark struct {
	mu sync.Mutex
	// onDisk is the highest sequence a finished sync covered; acked the highest
	// acknowledged whose writer went on to sync it (finished or not); inFlight counts
	// the writers' syncs under way. changed, made by a reader that waits, is closed
	// when one of them ends: an append whose sync no reader waits for makes nothing.
	onDisk, acked uint64
	inFlight      int
	changed       chan struct{}
}

func newDiskMark() *diskMark { return &diskMark{} }

// syncing says that the append acknowledged at seq is being synced.
func (m *diskMark) syncing(seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight++
	m.acked = max(m.acked, seq)
}

// synced says that the sync of the append at seq ended, with err.
func (m *diskMark) synced(seq uint64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight--
	if err == nil {
		m.onDisk = max(m.onDisk, seq)
	}
	if m.changed != nil {
		close(m.changed)
		m.changed = nil
	}
}

// durable returns once the log is on disk up to seq, a sequence read from it: at once
// when a finished sync covered it; after the syncs under way when one of them will (an
// append at or after seq is among them); otherwise after a sync of its own.
func (m *diskMark) durable(ctx context.Context, seq uint64, sync func(context.Context) error) error {
	for {
		m.mu.Lock()
		if seq <= m.onDisk {
			m.mu.Unlock()
			return nil
		}
		if seq > m.acked || m.inFlight == 0 {
			m.mu.Unlock()
			break
		}
		if m.changed == nil {
			m.changed = make(chan struct{})
		}
		changed := m.changed
		m.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := sync(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onDisk = max(m.onDisk, seq)
	return nil
}
