package projections_test

import (
	"context"
	"testing"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
)

// SecretAccess reads the org, the role and the row in one pipelined round trip, on
// statements prepared per connection. A rebuild switches the read models to a new
// schema under those prepared statements: the next reads must see the new schema's
// rows (PostgreSQL re-plans them), and an outsider gets no role.
func TestSecretAccessSurvivesARebuildSwitch(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: "DB_URL", Description: "primary",
		Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("postgres://x")}})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, res.Seq)
	check := func(stage, description string) {
		t.Helper()
		for range 12 { // more than the pool's connections, so most run the pipeline
			a, err := r.db.Secrets.SecretAccess(ctx, r.orgID, r.owner.UserID, res.ID)
			if err != nil {
				t.Fatalf("%s: %v", stage, err)
			}
			if row := a.Secret.Row(); a.OrgErr != nil || a.SecretErr != nil || a.Role != domain.RoleOwner || row.Name != "DB_URL" ||
				row.Description != description || !row.Environments[domain.Production].Set {
				t.Fatalf("%s: %+v", stage, a)
			}
		}
		out, err := r.db.Secrets.SecretAccess(ctx, r.orgID, "00000000-0000-4000-8000-000000000000", res.ID)
		if err != nil || out.Role != "" {
			t.Fatalf("%s: an outsider's access %+v, %v", stage, out, err)
		}
		gone, err := r.db.Secrets.SecretAccess(ctx, r.orgID, r.owner.UserID, "00000000-0000-4000-8000-000000000000")
		if err != nil || !domain.IsCode(gone.SecretErr, domain.CodeNotFound) {
			t.Fatalf("%s: a missing secret %+v, %v", stage, gone, err)
		}
	}
	check("before the rebuild", "primary")
	if _, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil); err != nil {
		t.Fatal(err)
	}
	check("after the rebuild", "primary")
	// A change projected into the new schema only: a statement still bound to the old
	// one would not see it.
	desc := "moved"
	upd, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: res.ID, Description: &desc})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, upd.Seq)
	check("after a change in the new schema", "moved")
}
