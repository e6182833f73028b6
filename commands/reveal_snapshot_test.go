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
