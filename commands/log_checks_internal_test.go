package commands

import (
	"context"
	"sync"
	"testing"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// changesLog is a log whose secrets' last sequences are given, and whose first
// look waits at a gate.
type changesLog struct {
	mu       sync.Mutex
	last     map[string]uint64 // secret id → last sequence
	complete bool
	gate     chan struct{}
	began    chan struct{}
	changed  []uint64 // the from of each ChangedAfter
	recorded []string // the id of each RecordedAfter
}

func (l *changesLog) wait() {
	l.mu.Lock()
	gate := l.gate
	l.gate = nil
	l.mu.Unlock()
	if gate != nil {
		l.began <- struct{}{}
		<-gate
	}
}

func (l *changesLog) RecordedAfter(_ context.Context, agg eventstore.Aggregate, after uint64) (bool, error) {
	l.wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recorded = append(l.recorded, agg.ID)
	return l.last[agg.ID] > after, nil
}

func (l *changesLog) ChangedAfter(_ context.Context, orgID, aggType string, after uint64, _ int) (map[string]uint64, bool, error) {
	l.wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changed = append(l.changed, after)
	if orgID != "org" || aggType != domain.AggregateSecret || !l.complete {
		return nil, false, nil
	}
	out := map[string]uint64{}
	for id, seq := range l.last {
		if seq > after {
			out[id] = seq
		}
	}
	return out, true, nil
}

// Checks asked while a look is under way share the next look: one listing of the
// organization's changed secrets from the lowest of their checkpoints, each answered
// by its own; when the listing says nothing, each asks the log on its own.
func TestLogChecksShareALook(t *testing.T) {
	for _, complete := range []bool{true, false} {
		gate := make(chan struct{})
		l := &changesLog{last: map[string]uint64{"a": 12, "b": 12, "c": 30}, complete: complete, gate: gate, began: make(chan struct{})}
		var g logChecks
		ask := func(id string, after uint64) *checkAsk {
			a := &checkAsk{id: id, after: after, done: make(chan struct{})}
			g.ask(context.Background(), l, "org", a)
			return a
		}
		first := ask("a", 5)
		<-l.began
		queued := map[*checkAsk]bool{ // the answer each wants
			ask("a", 10): true,  // changed at 12, after its 10
			ask("b", 20): false, // changed at 12, before its 20
			ask("c", 20): true,  // at 30
			ask("d", 7):  false, // never changed
		}
		close(gate)
		<-first.done
		if !first.newer || first.err != nil {
			t.Fatalf("the first check: newer %v, %v", first.newer, first.err)
		}
		for a, want := range queued {
			<-a.done
			if a.newer != want || a.err != nil {
				t.Fatalf("complete %v: check of %s after %d: newer %v (%v), want %v", complete, a.id, a.after, a.newer, a.err, want)
			}
		}
		if len(l.changed) != 1 || l.changed[0] != 7 {
			t.Fatalf("complete %v: looks from %v, want one from 7 (the lowest checkpoint)", complete, l.changed)
		}
		// The first, alone, asked on its own; the queued four shared a look, or, when
		// it said nothing, asked on their own.
		wantOwn := 1
		if !complete {
			wantOwn = 5
		}
		if len(l.recorded) != wantOwn {
			t.Fatalf("complete %v: %d checks on their own (%v), want %d", complete, len(l.recorded), l.recorded, wantOwn)
		}
		if got := g.looks.Load(); got != 1 {
			t.Fatalf("looks counted %d, want 1", got)
		}
	}
}
