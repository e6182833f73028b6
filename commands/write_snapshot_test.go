package commands_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// wrongWriteSnapshots answers every write with a copy that the log does not hold: a
// checkpoint beyond the log's end (so the log has nothing newer to show), and a
// secret with another name, version, values and last sequence. Read models that were
// wrong would say this.
type wrongWriteSnapshots struct{}

func (wrongWriteSnapshots) WriteSnapshot(context.Context, string, string) (domain.SecretSnapshot, uint64, uint64, bool, error) {
	return domain.SecretSnapshot{Name: "NOT_IT", Version: 7, Values: map[domain.Environment]domain.ValueSnapshot{
		domain.Staging: {Value: domain.ValueVersion{Version: 5}, Set: false},
	}}, 1, 1 << 40, true, nil
}

// silentWriteSnapshots never answers before its context ends: PostgreSQL partitioned away.
type silentWriteSnapshots struct{}

func (silentWriteSnapshots) WriteSnapshot(ctx context.Context, _, _ string) (domain.SecretSnapshot, uint64, uint64, bool, error) {
	<-ctx.Done()
	return domain.SecretSnapshot{}, 0, 0, false, ctx.Err()
}

// TestWritesTrustTheReadModelsOnlyAsFarAsTheLogConfirms: a write decided on a copy
// whose last sequence is not the secret's is refused by its append's expectation and
// decided again on the log, never built on; read models that do not answer cost a
// write at most the snapshot's bound. Either way the write lands on the log's state.
func TestWritesTrustTheReadModelsOnlyAsFarAsTheLogConfirms(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	names, err := reservation.Open(ctx, f.store)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		snapshots interface {
			WriteSnapshot(context.Context, string, string) (domain.SecretSnapshot, uint64, uint64, bool, error)
		}
	}{
		{"wrong", wrongWriteSnapshots{}},
		{"silent", silentWriteSnapshots{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.h.CreateSecret.Handle(ctx, f.owner, commands.CreateSecret{OrgID: f.orgID, Name: "API_KEY_" + tc.name,
				Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("sk_live_1")}})
			if err != nil {
				t.Fatal(err)
			}
			// Another replica, whose aggregate cache holds nothing.
			update := commands.New(f.store, names, time.Now).UpdateSecret.WithSnapshots(tc.snapshots)
			v := domain.NewPlaintext("sk_live_2")
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			started := time.Now()
			got, err := update.Handle(wctx, f.owner, commands.UpdateSecret{OrgID: f.orgID, SecretID: res.ID,
				Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v}})
			if err != nil {
				t.Fatalf("update: %v (after %s)", err, time.Since(started))
			}
			cur, _ := got.Secret.Value(domain.Production)
			if got.Secret.Name() != domain.SecretName("API_KEY_"+strings.ToUpper(tc.name)) || got.Secret.Version() != 2 || cur.Version != 2 || got.Secret.Partial() {
				t.Fatalf("answered %q version %d, value version %d, partial %v; want the log's secret at version 2",
					got.Secret.Name(), got.Secret.Version(), cur.Version, got.Secret.Partial())
			}
			// The event's place in the secret's history (sealed into its payload's
			// associated data) is the log's count, not the copy's.
			st, err := f.store.JetStream().Stream(ctx, eventstore.StreamName)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := st.GetLastMsgForSubject(ctx, eventstore.Subject(f.orgID, domain.AggregateSecret, res.ID))
			if err != nil {
				t.Fatal(err)
			}
			var env struct {
				Position int `json:"version"`
			}
			if err := json.Unmarshal(raw.Data, &env); err != nil || env.Position != 2 {
				t.Fatalf("the update was recorded at position %d (%v), want 2", env.Position, err)
			}
			rev, err := f.h.RevealSecret.Handle(ctx, f.owner, commands.RevealSecret{OrgID: f.orgID, SecretID: res.ID, Env: domain.Production})
			if err != nil || rev.Value.Reveal() != "sk_live_2" || rev.Version != 2 {
				t.Fatalf("revealed %v version %d (%v), want sk_live_2 version 2", rev.Value.Reveal(), rev.Version, err)
			}
			t.Logf("answered in %s", time.Since(started))
		})
	}
}
