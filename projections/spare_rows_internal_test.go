package projections

import (
	"testing"
	"time"
)

// A finished live batch's rows come back to the next batch empty, with their room
// and without anything the last batch wrote (not even beyond their length, where
// queued rows leave their strings); a rebuild's writer keeps none, and rows grown past
// maxSpareRows are dropped.
func TestKeptRowsComeBackEmpty(t *testing.T) {
	t.Parallel()
	w := &writer{}
	r := &batchTx{db: w, rows: w.takeRows()}
	at := time.Unix(1, 0)
	for i := range 5 {
		r.rows.secrets = append(r.rows.secrets, createdSecretRow{org: "o", id: string(rune('a' + i)), name: "sealed", at: at})
		r.nameSecret("o", string(rune('a'+i)), "sealed")
		r.rows.audit = append(r.rows.audit, liveAuditRow{e: AuditEntry{OrgID: "o", Action: "secret.created"}})
	}
	r.rows.secrets = r.rows.secrets[:2] // as a queue leaves them: short, the rest behind
	w.keepRows(r.rows)

	next := w.takeRows()
	if len(next.secrets) != 0 || len(next.names) != 0 || len(next.audit) != 0 || len(next.nameAt) != 0 {
		t.Fatalf("kept rows not empty: %d secrets, %d names, %d audit, %d name keys",
			len(next.secrets), len(next.names), len(next.audit), len(next.nameAt))
	}
	if cap(next.secrets) < 5 || cap(next.names) < 5 || cap(next.audit) < 5 {
		t.Fatalf("kept rows lost their room: %d, %d, %d", cap(next.secrets), cap(next.names), cap(next.audit))
	}
	for i, s := range next.secrets[:cap(next.secrets)] {
		if s != (createdSecretRow{}) {
			t.Fatalf("secret row %d beyond the length still holds %+v", i, s)
		}
	}
	for i, a := range next.audit[:cap(next.audit)] {
		if a.e.OrgID != "" || a.e.Action != "" {
			t.Fatalf("audit row %d still holds %+v", i, a.e)
		}
	}
	if again := w.takeRows(); cap(again.secrets) != 0 {
		t.Fatal("the same rows were handed out twice")
	}

	big := liveRows{versions: make([]versionRow, 0, maxSpareRows+1)}
	w.keepRows(big)
	if got := w.takeRows(); cap(got.versions) != 0 {
		t.Fatal("rows grown past maxSpareRows were kept")
	}
	bulk := &writer{bulk: true}
	bulk.keepRows(next)
	if got := bulk.takeRows(); cap(got.secrets) != 0 {
		t.Fatal("a rebuild's writer kept rows")
	}
}
