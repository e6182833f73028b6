package projections

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// A rebuild's batch that creates a secret, sets, updates and removes its values and
// bumps its version queues no statement for its grid rows (the statements were an
// INSERT of the secret, an upsert per value, an UPDATE per removal, read back, and
// per bump: five writes and a read here) and copies them once, in their final state,
// after the version rows. From then on the secret's events are statements again.
func TestRebuildFoldsASecretsGridRowsIntoACopyPerTable(t *testing.T) {
	t.Parallel()
	tx := &recordingTx{}
	r := newBatchTx(context.Background(), tx, &writer{bulk: true})
	const org, secret, owner = "6f1c2d3e-0000-4000-8000-000000000001", "6f1c2d3e-0000-4000-8000-000000000002", "6f1c2d3e-0000-4000-8000-000000000003"
	rec := func(seq uint64) domain.Recorded {
		r.nextSecretEvent(seq)
		return domain.Recorded{OrgID: org, AggregateID: secret, Seq: seq, Time: time.Unix(int64(seq), 0)}
	}
	r.foldable = map[secretKey]*foldedSecret{{org, secret}: nil}
	created := rec(1)
	f := r.foldOf(created)
	if f == nil {
		t.Fatal("a foldable secret has no folded state")
	}
	f.create(created, "name", "desc", owner)
	for _, env := range []domain.Environment{domain.Development, domain.Production} {
		if err := setValue(created, env, domain.ValueVersion{Version: 1, Mask: "*\x01*", Sealed: "s1"}, "created", nil, r, f); err != nil {
			t.Fatal(err)
		}
	}
	updated := rec(2)
	if err := setValue(updated, domain.Production, domain.ValueVersion{Version: 2, Mask: "**", Sealed: "s2"}, "updated", nil, r, f); err != nil {
		t.Fatal(err)
	}
	if err := removeValue(updated, domain.Development, nil, r, f); err != nil {
		t.Fatal(err)
	}
	bumpSecret(updated, r, f)
	if err := removeValue(rec(3), domain.Staging, nil, r, f); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("removing a value never set: %v, want the UPDATE's no rows", err)
	}
	if r.deferred.Len() != 0 || len(tx.ops) != 0 {
		t.Fatalf("%d writes queued and %q sent, want the grid rows folded", r.deferred.Len(), tx.ops)
	}
	if f.row.version != 2 || f.row.changedSeq != 2 || !f.row.updatedAt.Equal(time.Unix(2, 0)) || f.row.createdAt != time.Unix(1, 0) {
		t.Fatalf("folded secret row %+v, want version 2 changed at 2", f.row)
	}
	dev, prod := f.value(domain.Development), f.value(domain.Production)
	if dev.set || dev.version != 1 || dev.mask != nil || dev.sealed != nil || prod.version != 2 || *prod.mask != "**" || *prod.sealed != "s2" {
		t.Fatalf("folded values %+v %+v, want development removed at 1, production set at 2", dev, prod)
	}
	if err := r.sync(); err != nil {
		t.Fatal(err)
	}
	want := []string{"copy 4 begins", "copy 4 ends", "copy 1 begins", "copy 1 ends", "copy 2 begins", "copy 2 ends"}
	if !reflect.DeepEqual(tx.ops, want) {
		t.Fatalf("sent %q, want the 4 version rows, then the secret's row and its 2 values", tx.ops)
	}
	if r.foldOf(rec(4)) != nil {
		t.Fatal("a secret whose rows were copied is still folded")
	}
	bumpSecret(rec(4), r, nil)
	r.queueRows()
	if r.deferred.Len() != 1 {
		t.Fatalf("%d writes queued after the copy, want the bump's UPDATE", r.deferred.Len())
	}
}

// A deleted folded secret leaves no rows to copy but its tombstone, kept for a copy
// as every tombstone of a rebuild; created again, it has new rows.
func TestRebuildFoldsADeletionAndACreationAgain(t *testing.T) {
	t.Parallel()
	tx := &recordingTx{}
	r := newBatchTx(context.Background(), tx, &writer{bulk: true})
	const org, secret, owner = "6f1c2d3e-0000-4000-8000-000000000001", "6f1c2d3e-0000-4000-8000-000000000002", "6f1c2d3e-0000-4000-8000-000000000003"
	rec := domain.Recorded{OrgID: org, AggregateID: secret, Seq: 1, Time: time.Unix(1, 0)}
	r.foldable = map[secretKey]*foldedSecret{{org, secret}: nil}
	f := r.foldOf(rec)
	f.create(rec, "name", "desc", owner)
	if err := setValue(rec, domain.Production, domain.ValueVersion{Version: 1}, "created", nil, r, f); err != nil {
		t.Fatal(err)
	}
	rec.Seq = 2
	if err := deleteSecret(rec, nil, r, f); err != nil {
		t.Fatal(err)
	}
	// A second deletion of the secret in the same message has no tombstone of its own
	// (the INSERT's ON CONFLICT DO NOTHING), even after a sync copied the first.
	if err := deleteSecret(rec, nil, r, nil); err != nil {
		t.Fatal(err)
	}
	if r.deferred.Len() != 2 || len(r.deletionRows) != 1 || r.deletionRows[0].seq != 2 {
		t.Fatalf("%d writes queued, tombstones %+v; want the unfolded deletion's two DELETEs and one tombstone kept", r.deferred.Len(), r.deletionRows)
	}
	r.deletionRows = nil // as a sync leaves them
	if err := deleteSecret(rec, nil, r, nil); err != nil {
		t.Fatal(err)
	}
	if len(r.deletionRows) != 0 {
		t.Fatalf("tombstones %+v after a sync, want the message's second deletion left out", r.deletionRows)
	}
	if s, v, _ := r.takeFolds(); len(s) != 0 || len(v) != 0 {
		t.Fatalf("a deleted secret copies %d secret rows and %d values", len(s), len(v))
	}
	r.foldable = map[secretKey]*foldedSecret{{org, secret}: nil}
	f = r.foldOf(rec)
	rec.Seq = 3
	f.create(rec, "again", "desc", owner)
	f.create(rec, "twice", "other", owner) // DO NOTHING
	if s, _, _ := r.takeFolds(); len(s) != 1 || s[0].nameSealed != "again" || s[0].changedSeq != 3 {
		t.Fatalf("created again: %+v", s)
	}
}

// A rebuild's batch copies the name row of a secret it creates when the table had
// none, the last creation's as the INSERT … ON CONFLICT DO UPDATE leaves it, instead
// of a statement per creation; after the copy, a creation is a statement again.
func TestRebuildCopiesTheNameRowsOfTheSecretsItCreates(t *testing.T) {
	t.Parallel()
	tx := &recordingTx{}
	r := newBatchTx(context.Background(), tx, &writer{bulk: true})
	const org, secret = "6f1c2d3e-0000-4000-8000-000000000001", "6f1c2d3e-0000-4000-8000-000000000002"
	if r.foldName(org, secret, "first") {
		t.Fatal("a name folded that the batch did not find missing")
	}
	r.foldableNames = map[secretKey]int{{org, secret}: -1}
	if !r.foldName(org, secret, "first") || !r.foldName(org, secret, "second") {
		t.Fatal("a missing name row not folded")
	}
	if len(r.nameRows) != 1 || r.nameRows[0].sealed != "second" {
		t.Fatalf("name rows %+v, want the second creation's alone", r.nameRows)
	}
	if err := r.sync(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"copy 1 begins", "copy 1 ends"}; !reflect.DeepEqual(tx.ops, want) {
		t.Fatalf("sent %q, want %q", tx.ops, want)
	}
	if r.foldName(org, secret, "third") {
		t.Fatal("a name copied already folded again")
	}
}
