package projections_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// A batch of creates and of updates of one secret writes a statement per table, not
// one per row: the statements a batch sends do not grow with the secrets it creates
// or the changes it applies, and the grid, the values, the version history, the names
// and the audit trail still hold every row.
func TestABatchWritesAStatementPerTableNotPerRow(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	project := func(until uint64) int64 {
		t.Helper()
		before := r.db.WriteStatements()
		stop := r.startProjector(t, r.db)
		r.wait(t, until)
		stop()
		return r.db.WriteStatements() - before
	}
	both := map[domain.Environment]string{domain.Production: "p-1", domain.Staging: "s-1"}
	one := project(r.create(t, "FIRST", both).Seq)

	var ids []string
	var last uint64
	for i := range 30 {
		res := r.create(t, fmt.Sprintf("KEY_%02d", i), both)
		ids, last = append(ids, res.ID), res.Seq
	}
	for i := range 20 {
		p := domain.NewPlaintext(fmt.Sprint("p-", i+2))
		res, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: ids[0],
			Values: map[domain.Environment]*domain.Plaintext{domain.Production: &p}})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Seq
	}
	many := project(last)
	t.Logf("one create: %d statements; 30 creates and 20 updates: %d", one, many)
	// The projector may take the first message of a backlog alone, so allow a few
	// batches of the first one's size; a statement per row would be over 200.
	if many > 3*one {
		t.Fatalf("50 commands took %d statements, one create %d: want a statement per table per batch", many, one)
	}

	rows, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 31 {
		t.Fatalf("%d grid rows, want 31", len(rows))
	}
	for _, row := range rows {
		if row.ID != ids[0] {
			continue
		}
		prod, staging := row.Environments[domain.Production], row.Environments[domain.Staging]
		if row.Name != "KEY_00" || row.Version != 21 || prod.Version != 21 || !prod.Set || staging.Version != 1 {
			t.Fatalf("the updated secret's row %+v, want version 21, production at 21, staging at 1", row)
		}
	}
	history, err := r.db.Secrets.ListVersions(ctx, r.orgID, ids[0], domain.Production)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 21 || history[0].Version != 21 || history[20].Version != 1 {
		t.Fatalf("%d version rows, want 21 newest first", len(history))
	}
	v, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store)
	if err != nil {
		t.Fatal(err)
	}
	// The organization's creation, 31 creates (two environments each) and 20 updates.
	if !v.OK || v.Checked < 51 {
		t.Fatalf("verify = %+v, want every command's entries", v)
	}
}
