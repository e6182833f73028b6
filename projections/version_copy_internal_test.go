package projections

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// A rebuild copies its rows of version history with its audit rows instead of
// queueing an INSERT for each (4 writes before), and keeps an event's first row for
// an environment only, as the INSERT's ON CONFLICT DO NOTHING did.
func TestRebuildCopiesVersionRows(t *testing.T) {
	tx := &recordingTx{}
	r := newBatchTx(context.Background(), tx, &writer{bulk: true})
	const org, secret = "6f1c2d3e-0000-4000-8000-000000000001", "6f1c2d3e-0000-4000-8000-000000000002"
	rec := func(seq uint64) domain.Recorded {
		return domain.Recorded{OrgID: org, AggregateID: secret, Seq: seq, Time: time.Unix(0, 0)}
	}
	mask := "***"
	r.nextSecretEvent(5)
	recordVersion(rec(5), domain.Production, 2, "updated", &mask, r)
	recordVersion(rec(5), domain.Staging, 1, "created", &mask, r)
	recordVersion(rec(5), domain.Production, 2, "deleted", nil, r) // the event's second production row
	r.nextSecretEvent(6)
	recordVersion(rec(6), domain.Production, 2, "deleted", nil, r)
	if r.deferred.Len() != 0 {
		t.Fatalf("%d writes queued, want the rows kept for a copy", r.deferred.Len())
	}
	if len(r.versionRows) != 3 || r.versionRows[0].action != "updated" || r.versionRows[2].seq != 6 {
		t.Fatalf("rows kept %+v, want seq 5's production and staging rows and seq 6's", r.versionRows)
	}
	if err := r.sync(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"copy 3 begins", "copy 3 ends"}; !reflect.DeepEqual(tx.ops, want) {
		t.Fatalf("sent %q, want %q", tx.ops, want)
	}
}

// The values handed to COPY are the row's in versionColumnsIn's order, text through
// pgText as the INSERT's arguments, the mask NULL when there is none.
func TestVersionCopyRowValues(t *testing.T) {
	t.Parallel()
	rec := domain.Recorded{OrgID: "6f1c2d3e-0000-4000-8000-000000000001", AggregateID: "not-a-uuid", Seq: 9, Time: time.Unix(7, 0)}
	src := &versionCopySource{rows: []versionCopyRow{newVersionCopyRow(rec, domain.Production, 3, "rolled_back", "actor\x00", nil, 2)}}
	if !src.Next() {
		t.Fatal("no row")
	}
	v, err := src.Values()
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != len(versionColumnsIn) {
		t.Fatalf("%d values for %d columns", len(v), len(versionColumnsIn))
	}
	got := make([]string, len(v))
	for i, x := range v {
		switch x := x.(type) {
		case nil:
			got[i] = "NULL"
		case uuidRef:
			got[i] = fmt.Sprintf("uuid %x", x.p.Bytes[:2])
		case textRef:
			got[i] = *x.p
		case int8Ref:
			got[i] = fmt.Sprint(*x.p)
		case timeRef:
			got[i] = fmt.Sprint(x.p.Unix())
		}
	}
	want := []string{"uuid 6f1c", "not-a-uuid", "production", "3", "rolled_back", "actor\uFFFD", "7", "NULL", "9", "2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("values %q, want %q", got, want)
	}
	if src.Next() {
		t.Fatal("a second row")
	}
}
