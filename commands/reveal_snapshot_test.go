package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
)

// staleSnapshots answers every reveal with a row of checkpoint 0 that says something
// else than the log: what read models far behind the log (or simply wrong) would say.
type staleSnapshots struct{}

func (staleSnapshots) RevealSnapshot(context.Context, string, string, domain.Environment) (domain.RevealSnapshot, uint64, bool, error) {
	return domain.RevealSnapshot{OwnerID: "nobody", HasValue: true, Value: domain.ValueVersion{Version: 99, Sealed: "not a sealed value"}}, 0, true, nil
}

// silentSnapshots never answers before its context ends: PostgreSQL partitioned away.
type silentSnapshots struct{}

func (silentSnapshots) RevealSnapshot(ctx context.Context, _, _ string, _ domain.Environment) (domain.RevealSnapshot, uint64, bool, error) {
	<-ctx.Done()
	return domain.RevealSnapshot{}, 0, false, ctx.Err()
}

// TestRevealTrustsTheReadModelsOnlyAsFarAsTheLogConfirms: a snapshot that the log has
// moved past is not used, and read models that do not answer cost a reveal at most the
// snapshot's bound; either way the reveal is the log's.
func TestRevealTrustsTheReadModelsOnlyAsFarAsTheLogConfirms(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		h    *commands.RevealSecretHandler
	}{
		{"stale", f.h.RevealSecret.WithSnapshots(staleSnapshots{})},
		{"silent", f.h.RevealSecret.WithSnapshots(silentSnapshots{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A secret of its own, which no reveal has brought into the commands' cache.
			res, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: "API_KEY_" + tc.name,
				Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("sk_live_1")}})
			if err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			started := time.Now()
			rev, err := tc.h.Handle(rctx, f.owner, commands.RevealSecret{OrgID: f.orgID, SecretID: res.ID, Env: domain.Production})
			if err != nil {
				t.Fatalf("reveal: %v (after %s)", err, time.Since(started))
			}
			if rev.Value.Reveal() != "sk_live_1" || rev.Version != 1 {
				t.Fatalf("revealed %q version %d, want sk_live_1 version 1", rev.Value.Reveal(), rev.Version)
			}
			t.Logf("answered in %s", time.Since(started))
		})
	}
}

// countingSnapshots counts the copies read and answers like staleSnapshots, but as a
// row that would let anyone reveal: what a wrong early read would hand a stranger.
type countingSnapshots struct{ reads chan struct{} }

func (s countingSnapshots) RevealSnapshot(context.Context, string, string, domain.Environment) (domain.RevealSnapshot, uint64, bool, error) {
	s.reads <- struct{}{}
	return domain.RevealSnapshot{OwnerID: "anyone", HasValue: true, Value: domain.ValueVersion{Version: 1, Sealed: "not a sealed value"}}, 1 << 62, true, nil
}

// TestRevealReadsTheCopyWhileMembershipIsCheckedButDecidesOnMembership: the copy is read
// while the caller's membership is checked (the two looks overlap), and a caller who
// is not a member is refused all the same, with nothing of the copy.
func TestRevealReadsTheCopyWhileMembershipIsCheckedButDecidesOnMembership(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	res := f.createProd(t, "STRANGERS_KEY", "sk_live_1")
	u, err := f.h.RegisterUser.Handle(ctx, commands.Meta{}, commands.RegisterUser{Email: "stranger@example.com", Name: "Stranger", Password: domain.NewPlaintext("another horse battery")})
	if err != nil {
		t.Fatal(err)
	}
	snaps := countingSnapshots{reads: make(chan struct{}, 4)}
	h := f.h.RevealSecret.WithSnapshots(snaps)
	rev, err := h.Handle(ctx, commands.Meta{UserID: u.ID}, commands.RevealSecret{OrgID: f.orgID, SecretID: res.ID, Env: domain.Production})
	if err == nil || rev.Value.Reveal() != "" {
		t.Fatalf("a stranger's reveal answered %q, %v; want a refusal", rev.Value.Reveal(), err)
	}
	select {
	case <-snaps.reads:
	case <-time.After(5 * time.Second):
		t.Fatal("the copy was not read while membership was checked")
	}
}
