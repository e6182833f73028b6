package reservation_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// Of twenty holders reserving one value at once exactly one gets it; the others are
// told who holds it. A stale reservation is taken over only at the revision it was
// seen at, and only its holder releases it.
func TestReservationHasOneHolder(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	r, err := reservation.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	key := reservation.ReservationKey("org-1", "DATABASE_URL")
	if strings.Contains(key, "DATABASE_URL") {
		t.Fatalf("the key %q holds the value in clear", key)
	}
	var (
		mu      sync.Mutex
		winners []string
		wg      sync.WaitGroup
	)
	for i := range 20 {
		holder := "h" + string(rune('a'+i))
		wg.Go(func() {
			got, err := r.Reserve(ctx, key, holder)
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			case errors.Is(err, reservation.ErrReserved):
				if got.Holder == "" || got.Holder == holder {
					t.Errorf("refused %s names holder %q", holder, got.Holder)
				}
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("winners %v, want exactly one", winners)
	}
	winner := winners[0]

	cur, err := r.Reserve(ctx, key, "late")
	if !errors.Is(err, reservation.ErrReserved) || cur.Holder != winner {
		t.Fatalf("late reserve: %+v %v", cur, err)
	}
	if err := r.Release(ctx, key, "late"); err != nil {
		t.Fatal(err)
	}
	if again, err := r.Reserve(ctx, key, "late"); !errors.Is(err, reservation.ErrReserved) || again.Holder != winner {
		t.Fatalf("a non-holder's release freed the reservation: %+v %v", again, err)
	}
	taken, err := r.TakeOver(ctx, cur, "successor")
	if err != nil || taken.Holder != "successor" {
		t.Fatalf("take over: %+v %v", taken, err)
	}
	if _, err := r.TakeOver(ctx, cur, "third"); !errors.Is(err, reservation.ErrReserved) {
		t.Fatalf("take over at a stale revision: %v, want ErrReserved", err)
	}
	if err := r.Release(ctx, key, "successor"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reserve(ctx, key, "fresh"); err != nil {
		t.Fatalf("reserve after release: %v", err)
	}
}
