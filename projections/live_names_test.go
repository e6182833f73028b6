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
	if n := revealedByANewProjector(t, "KEPT", nil); n > 3 {
		t.Fatalf("the live projector read %d secret names for 30 reveals of 3 secrets", n)
	}
}

// A live projector takes the names of the secrets it audits from the grid's name index
// when the index holds them open: after a page of the organization was read, a new
// projector reads no name from the read models for 30 reveals of 3 secrets (3 before:
// it kept its own copy of the names, read once each), and names every entry right.
func TestLiveProjectorTakesNamesFromTheGridIndex(t *testing.T) {
	t.Parallel()
	readPage := func(t *testing.T, r *rig) {
		page, err := r.db.Secrets.SecretPageAt(context.Background(), r.orgID, r.owner.UserID, projections.SecretFilter{Limit: 10})
		if err != nil || len(page.Rows) != 3 {
			t.Fatalf("page: %d rows, err %v", len(page.Rows), err)
		}
	}
	if n := revealedByANewProjector(t, "INDEXED", readPage); n != 0 {
		t.Fatalf("the live projector read %d secret names for 30 reveals of 3 secrets the index holds", n)
	}
}

// revealedByANewProjector creates 3 secrets named prefix_0 to _2, stops the projector
// that applied the creates (it knows the names from them), runs before, if any, then
// reveals each secret 10 times with a new projector, one reveal to a batch. It checks
// that every reveal's audit entry names its secret, and returns how many secret names
// the new projector read from the read models.
func revealedByANewProjector(t *testing.T, prefix string, before func(*testing.T, *rig)) int64 {
	t.Helper()
	r := newRig(t, false)
	ctx := context.Background()
	stop := r.startProjector(t, r.db)
	var ids []string
	for i := range 3 {
		res := r.create(t, fmt.Sprintf("%s_%d", prefix, i), map[domain.Environment]string{domain.Production: "p"})
		r.wait(t, res.Seq)
		ids = append(ids, res.ID)
	}
	stop()
	if before != nil {
		before(t, r)
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
	read := r.db.SecretNameReads() - reads
	entries, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{Action: domain.AuditSecretRevealed, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 30 {
		t.Fatalf("%d reveal entries, want 30", len(entries))
	}
	for _, e := range entries {
		if e.SecretName != fmt.Sprintf("%s_%d", prefix, slices.Index(ids, e.SecretID)) {
			t.Fatalf("entry of secret %s names %q", e.SecretID, e.SecretName)
		}
	}
	return read
}
