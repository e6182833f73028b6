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
	perBatch := &batchLog{db: r.db}
	project := func(until uint64) int64 {
		t.Helper()
		before := r.db.WriteStatements()
		perBatch.statements = before
		stop := r.startProjectorWith(t, projections.NewProjector(r.db, r.env.Store, nil).ObserveBatches(perBatch))
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
	first := len(perBatch.applied)
	many := project(last)
	batches := perBatch.applied[first:]
	t.Logf("one create: %d statements; 30 creates and 20 updates: %d, in batches of (events, statements) %v", one, many, batches)
	// How the backlog falls into batches is the follower's timing (CI's loaded machine
	// made more than the 3 this test once allowed, and a first project of one batch
	// instead of two), so the bound is per batch: a batch of creates and updates sends
	// at most batchStatements, however many rows it holds. A statement per row (five per
	// created secret before) would exceed it in any batch of three creates.
	const batchStatements = 13 // all 50 commands in one batch send 13
	for _, b := range batches {
		if b[1] > batchStatements {
			t.Errorf("a batch of %d events took %d statements, want at most %d: a statement per table per batch", b[0], b[1], batchStatements)
		}
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
