package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/projections"
)

// A replay opens the events it rebuilds from (users, the organization, its secrets)
// and passes over the organization's reveals unopened: what it opens does not grow
// with them, while its sequence still counts them, up to a time limit too.
func TestReplayDoesNotOpenReveals(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	s := r.create(t, "REVEALED", map[domain.Environment]string{domain.Production: "v"})
	reveal := func() uint64 {
		t.Helper()
		res, err := r.env.Store.Append(ctx, eventstore.Pending{
			Aggregate: eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateAccess, ID: s.ID}, Unchecked: true,
			Events: []domain.Event{domain.SecretRevealed{SecretID: s.ID, Env: domain.Production, Version: 1}},
			Actor:  domain.Actor{UserID: r.owner.UserID},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.Seq()
	}
	replay := func(limit projections.ReplayLimit) (projections.ReplayedOrg, uint64) {
		t.Helper()
		before := r.env.Store.EventsLoaded()
		state, err := projections.ReplayOrg(ctx, r.env.Store, r.orgID, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(state.Secrets) != 1 || state.Secrets[0].Name != "REVEALED" {
			t.Fatalf("replayed secrets %+v", state.Secrets)
		}
		return state, r.env.Store.EventsLoaded() - before
	}
	_, without := replay(projections.ReplayLimit{})
	var seqs []uint64
	for range 40 {
		seqs = append(seqs, reveal())
	}
	time.Sleep(5 * time.Millisecond)
	middle := time.Now()
	time.Sleep(5 * time.Millisecond)
	for range 40 {
		seqs = append(seqs, reveal())
	}
	state, with := replay(projections.ReplayLimit{})
	if with != without {
		t.Fatalf("a replay opened %d messages, %d after 80 reveals: want the same", without, with)
	}
	if state.Seq != seqs[79] {
		t.Fatalf("replay's sequence %d, want the last reveal's %d", state.Seq, seqs[79])
	}
	if state, _ = replay(projections.ReplayLimit{Until: middle}); state.Seq != seqs[39] {
		t.Fatalf("replay until the middle: sequence %d, want the 40th reveal's %d", state.Seq, seqs[39])
	}
	if state, _ = replay(projections.ReplayLimit{UntilSeq: seqs[9]}); state.Seq != seqs[9] {
		t.Fatalf("replay until sequence %d: sequence %d", seqs[9], state.Seq)
	}
}
