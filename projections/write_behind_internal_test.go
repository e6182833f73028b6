package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// recordingTx is a transaction that records, in order, what is sent on it. A copy
// can be held until released, and can fail.
type recordingTx struct {
	pgx.Tx
	mu      sync.Mutex
	ops     []string
	started chan int      // receives the rows of each copy as it begins
	release chan struct{} // a copy ends when it receives from here (nil: at once)
	failing error
}

func (t *recordingTx) log(op string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ops = append(t.ops, op)
}

func (t *recordingTx) CopyFrom(_ context.Context, table pgx.Identifier, _ []string, src pgx.CopyFromSource) (int64, error) {
	n := 0
	for src.Next() {
		n++
	}
	t.log(fmt.Sprintf("copy %d begins", n))
	if t.started != nil {
		t.started <- n
	}
	if t.release != nil {
		<-t.release
	}
	t.log(fmt.Sprintf("copy %d ends", n))
	return int64(n), t.failing
}

func (t *recordingTx) SendBatch(_ context.Context, b *pgx.Batch) pgx.BatchResults {
	t.log(fmt.Sprintf("writes %d", b.Len()))
	return closedBatch{}
}

func (t *recordingTx) QueryRow(context.Context, string, ...any) pgx.Row {
	t.log("read")
	return errRow{pgx.ErrNoRows}
}

type closedBatch struct{ pgx.BatchResults }

func (closedBatch) Close() error { return nil }

func (closedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, nil }

func auditRow(i int) AuditEntry {
	return AuditEntry{OrgID: "6f1c2d3e-0000-4000-8000-000000000001", Seq: uint64(i), EventID: "EV", At: time.Unix(0, 0), Action: "secret.revealed",
		Outcome: "success", ActorID: "a", ActorEmail: "e", Details: "version 1", IP: "10.0.0.1", UserAgent: "ua", PrevHash: "p", Hash: "h"}
}

// A rebuild's batch sends its audit rows while it applies the events after them: a
// copy begins once writeBehindRows rows are gathered, before the batch's end. Its
// writes keep their order: a read, a second copy and the batch's end each wait for
// the copy in flight, and one in flight at a time.
func TestRebuildBatchWritesBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := &recordingTx{started: make(chan int, 4), release: make(chan struct{})}
	r := newBatchTx(ctx, tx, &writer{bulk: true})
	r.exec(`UPDATE something`)
	for i := range writeBehindRows {
		r.insertAudit(auditRow(i), nil, nil)
	}
	select {
	case n := <-tx.started:
		if n != writeBehindRows {
			t.Fatalf("the first copy sent %d rows, want %d", n, writeBehindRows)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no audit row was sent before the batch's end")
	}
	// While it is in flight, more rows gather (no second copy), and a read waits.
	for i := range writeBehindRows + 10 {
		r.insertAudit(auditRow(writeBehindRows+i), nil, nil)
	}
	read := make(chan error, 1)
	go func() {
		var s string
		read <- r.queryRow(`SELECT 1`).Scan(&s)
	}()
	time.Sleep(50 * time.Millisecond) // room for a read that did not wait to show itself
	tx.release <- struct{}{}
	if n := <-tx.started; n != writeBehindRows+10 {
		t.Fatalf("the read sent %d rows first, want %d", n, writeBehindRows+10)
	}
	tx.release <- struct{}{}
	if err := <-read; !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	tx.release = nil
	r.insertAudit(auditRow(9999), nil, nil)
	if err := r.flush(1); err != nil {
		t.Fatal(err)
	}
	want := []string{"writes 1", "copy 1000 begins", "copy 1000 ends", "copy 1010 begins", "copy 1010 ends", "read", "copy 1 begins", "copy 1 ends"}
	if got := strings.Join(tx.ops, ", "); got != strings.Join(want, ", ") {
		t.Fatalf("sent %s\nwant %s", got, strings.Join(want, ", "))
	}
}

// A copy that failed in flight fails the batch at its next use of the transaction,
// and nothing more is sent after it.
func TestRebuildBatchWriteBehindFailureFailsTheBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	boom := errors.New("disk full")
	tx := &recordingTx{started: make(chan int, 4), failing: boom}
	r := newBatchTx(ctx, tx, &writer{bulk: true})
	for i := range 3 * writeBehindRows {
		r.insertAudit(auditRow(i), nil, nil)
	}
	if err := r.flush(1); !errors.Is(err, boom) {
		t.Fatalf("flush after a failed copy: %v, want %v", err, boom)
	}
	if len(tx.started) != 1 {
		t.Fatalf("%d copies were sent, want only the one that failed", len(tx.started))
	}
}

// The live projector's batches send nothing until a read or their end.
func TestLiveBatchDoesNotWriteBehind(t *testing.T) {
	t.Parallel()
	tx := &recordingTx{}
	r := newBatchTx(context.Background(), tx, &writer{})
	for i := range 2 * writeBehindRows {
		r.insertAudit(auditRow(i), nil, nil)
	}
	if len(tx.ops) != 0 || r.behind != nil {
		t.Fatalf("sent %v before the batch's end", tx.ops)
	}
}
