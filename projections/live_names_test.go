package projections_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// The live projector reads a secret's name from the read models once, not once per
// batch that audits the secret: 3 secrets revealed 10 times each, one reveal to a
// batch, read at most 3 names (30 when each batch read the names it audits). The
// audit trail names every entry's secret.
func TestLiveProjectorReadsEachSecretNameOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	stop := r.startProjector(t, r.db)
	var ids []string
	for i := range 3 {
		res := r.create(t, fmt.Sprintf("KEPT_%d", i), map[domain.Environment]string{domain.Production: "p"})
		r.wait(t, res.Seq)
		ids = append(ids, res.ID)
	}
	// The projector that applied the creates knows the names from them: a new one
	// has to read them.
	stop()
	r.startProjector(t, r.db)
	reads := r.db.SecretNameReads()
	for i := range 30 {
		rev, err := r.h.RevealSecret.Handle(ctx, r.owner, commands.RevealSecret{OrgID: r.orgID, SecretID: ids[i%3], Env: domain.Production})
		if err != nil {
			t.Fatal(err)
		}
		r.wait(t, rev.Seq)
	}
	if n := r.db.SecretNameReads() - reads; n > 3 {
		t.Fatalf("the live projector read %d secret names for 30 reveals of 3 secrets", n)
	}
	entries, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Action: domain.AuditSecretRevealed, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 30 {
		t.Fatalf("%d reveal entries, want 30", len(entries))
	}
	for _, e := range entries {
		if e.SecretName != fmt.Sprintf("KEPT_%d", slices.Index(ids, e.SecretID)) {
			t.Fatalf("entry of secret %s names %q", e.SecretID, e.SecretName)
		}
	}
}

// A live projector takes the names of the secrets it audits from the grid's name index
// when the index holds them open: after a page of the organization was read, a new
// projector reads no name from the read models for 30 reveals of 3 secrets (3 before:
// it kept its own copy of the names, read once each), and names every entry right.
func TestLiveProjectorTakesNamesFromTheGridIndex(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	ctx := context.Background()
	stop := r.startProjector(t, r.db)
	var ids []string
	for i := range 3 {
		res := r.create(t, fmt.Sprintf("INDEXED_%d", i), map[domain.Environment]string{domain.Production: "p"})
		r.wait(t, res.Seq)
		ids = append(ids, res.ID)
	}
	stop()
	if page, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, projections.SecretFilter{Limit: 10}); err != nil || len(page.Rows) != 3 {
		t.Fatalf("page: %d rows, err %v", len(page.Rows), err)
	}
	r.startProjector(t, r.db)
	reads := r.db.SecretNameReads()
	for i := range 30 {
		rev, err := r.h.RevealSecret.Handle(ctx, r.owner, commands.RevealSecret{OrgID: r.orgID, SecretID: ids[i%3], Env: domain.Production})
		if err != nil {
			t.Fatal(err)
		}
		r.wait(t, rev.Seq)
	}
	if n := r.db.SecretNameReads() - reads; n != 0 {
		t.Fatalf("the live projector read %d secret names for 30 reveals of 3 secrets the index holds", n)
	}
	entries, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Action: domain.AuditSecretRevealed, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 30 {
		t.Fatalf("%d reveal entries, want 30", len(entries))
	}
	for _, e := range entries {
		if e.SecretName != fmt.Sprintf("INDEXED_%d", slices.Index(ids, e.SecretID)) {
			t.Fatalf("entry of secret %s names %q", e.SecretID, e.SecretName)
		}
	}
}
