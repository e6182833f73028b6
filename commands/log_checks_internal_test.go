package commands

import (
	"context"
	"sync"
	"testing"
	"time"

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

// checksOnlyLog is a cachedLog's log that answers only the looks for newer events.
type checksOnlyLog struct {
	tailLog
	l *changesLog
}

func (c checksOnlyLog) RecordedAfter(ctx context.Context, agg eventstore.Aggregate, after uint64) (bool, error) {
	return c.l.RecordedAfter(ctx, agg, after)
}

func (c checksOnlyLog) ChangedAfter(ctx context.Context, orgID, aggType string, after uint64, max int) (map[string]uint64, bool, error) {
	return c.l.ChangedAfter(ctx, orgID, aggType, after, max)
}

// A copy is confirmed by a look at the log that begins while it is read, from the
// checkpoint known before: the read below waits for that look to begin (it never
// would if the look waited for the read). An event between the known checkpoint and
// the copy's own is in the copy; one after the copy's is not, and the copy is refused;
// a copy older than the known checkpoint is checked against its own.
func TestConfirmedCopyLooksAtTheLogWhileTheCopyIsRead(t *testing.T) {
	for _, tc := range []struct {
		name       string
		last       uint64 // the secret's last event in the log
		low, cp    uint64
		overlapped bool
		ok         bool
	}{
		{"nothing newer", 40, 50, 60, true, true},
		{"newer than known, in the copy", 55, 50, 60, true, true},
		{"newer than the copy", 65, 50, 60, true, false},
		{"copy older than known", 45, 50, 48, true, true},
		{"copy older than known, newer than it", 49, 50, 48, true, false},
		{"nothing known yet", 40, 0, 60, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := make(chan struct{})
			l := &changesLog{last: map[string]uint64{"s1": tc.last}, complete: true, gate: gate, began: make(chan struct{}, 1)}
			cl := &cachedLog{tailLog: checksOnlyLog{l: l}}
			agg := eventstore.Aggregate{OrgID: "org", Type: domain.AggregateSecret, ID: "s1"}
			read := func(context.Context) (string, uint64, bool, error) {
				if tc.overlapped {
					select {
					case <-l.began:
					case <-time.After(5 * time.Second):
						t.Error("the look at the log did not begin while the copy was read")
					}
				}
				close(gate)
				return "copy", tc.cp, true, nil
			}
			got, cp, ok := confirmedCopyFrom(context.Background(), cl, agg, tc.low, read)
			if ok != tc.ok || cp != tc.cp || (ok && got != "copy") {
				t.Fatalf("confirmedCopyFrom = %q, %d, %v; want ok %v at %d", got, cp, ok, tc.ok, tc.cp)
			}
		})
	}
}
