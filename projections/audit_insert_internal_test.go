package projections

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// statementTx records the statements of every batch sent on it, in order.
type statementTx struct {
	pgx.Tx
	sent []*pgx.QueuedQuery
}

func (t *statementTx) SendBatch(_ context.Context, b *pgx.Batch) pgx.BatchResults {
	t.sent = append(t.sent, b.QueuedQueries...)
	return closedBatch{}
}

// The live projector sends consecutive audit rows as one INSERT, in their place
// among its other writes: a batch of reveals costs PostgreSQL one statement for its
// audit rows, not one per reveal.
func TestLiveAuditRowsGoAsOneInsertInTheirPlace(t *testing.T) {
	t.Parallel()
	tx := &statementTx{}
	r := newBatchTx(context.Background(), tx, &writer{})
	r.exec(`UPDATE before`)
	for i := range 5 {
		r.insertAudit(auditRow(i), nil, nil)
	}
	r.exec(`UPDATE between`)
	name := "sealed"
	for i := range 3 {
		r.insertAudit(auditRow(5+i), &name, nil)
	}
	if err := r.sync(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range tx.sent {
		switch {
		case strings.HasPrefix(q.SQL, "INSERT INTO audit_log"):
			orgs, _ := q.Arguments[0].([]string)
			got = append(got, "audit rows "+strconv.Itoa(len(orgs)))
		default:
			got = append(got, q.SQL)
		}
	}
	want := []string{"UPDATE before", "audit rows 5", "UPDATE between", "audit rows 3"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("statements sent:\n%q\nwant\n%q", got, want)
	}
	last := tx.sent[3].Arguments
	if seqs := last[1].([]int64); seqs[0] != 5 || seqs[2] != 7 {
		t.Fatalf("seqs of the second INSERT: %v", seqs)
	}
	if names := last[10].([]*string); names[1] == nil || *names[1] != name {
		t.Fatalf("sealed names of the second INSERT: %v", names)
	}
	if ids := last[9].([]*string); ids[0] != nil {
		t.Fatalf("an entry without a secret sent secret id %q, want NULL", *ids[0])
	}
}
