package projections

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keyledger/keyledger/projections/pgtest"
)

// argWireSize is what pgx puts in a Bind message for each type of parameter a live
// batch sends: the value's length word and its encoding, arrays in the binary format
// with a NULL for a nil element. An estimate short of it would leave pgx growing its
// buffers again; one far over it would allocate for nothing.
func TestArgWireSizeIsWhatPgxEncodes(t *testing.T) {
	m := pgtype.NewMap()
	name := "a secret's name, sealed"
	at := time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC)
	cases := []struct {
		oid    uint32
		format int16
		v      any
	}{
		{pgtype.TextOID, pgtype.TextFormatCode, "keyledger_rm_1"},
		{pgtype.ByteaOID, pgtype.BinaryFormatCode, []byte{0, 1, 2, 3, 4}},
		{pgtype.TextArrayOID, pgtype.BinaryFormatCode, []string{"6f1c2d3e-0000-4000-8000-000000000001", "", "production"}},
		{pgtype.TextArrayOID, pgtype.BinaryFormatCode, []*string{&name, nil, &name}},
		{pgtype.ByteaArrayOID, pgtype.BinaryFormatCode, [][]byte{[]byte("sealed notice"), {}}},
		{pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, []int64{1, 1 << 40, -3}},
		{pgtype.Int4ArrayOID, pgtype.BinaryFormatCode, []int32{7, 0}},
		{pgtype.TimestamptzArrayOID, pgtype.BinaryFormatCode, []time.Time{at, at.Add(time.Second)}},
		{pgtype.BoolArrayOID, pgtype.BinaryFormatCode, []bool{true, false, true}},
	}
	for _, c := range cases {
		enc, err := m.Encode(c.oid, c.format, c.v, nil)
		if err != nil {
			t.Fatalf("%T: %v", c.v, err)
		}
		if got, want := argWireSize(c.v), 4+len(enc); got != want {
			t.Errorf("argWireSize(%T %v) = %d, pgx encodes %d bytes and a length word", c.v, c.v, got, want)
		}
	}
}

// A live batch's send allocates its statements' bytes about once: pgx's write buffer
// is grown to the batch before pgx encodes into it, and each statement's parameter
// buffer to its parameters (sizeBatch). pgx alone grows both a quarter at a time
// from 1 kB and 256 bytes, for every batch and every statement: the same batch sent
// on the bare connection allocates several times its bytes.
func TestALiveBatchGrowsPgxBuffersOnce(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, `CREATE TABLE rows (org text, id text, sealed text, seq bigint)`); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO rows SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[])`
	const n = 1000
	orgs, ids, sealed, seqs := make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	for i := range n {
		orgs[i], ids[i] = "6f1c2d3e-0000-4000-8000-000000000001", fmt.Sprintf("6f1c2d3e-0000-4000-8000-%012d", i)
		sealed[i], seqs[i] = strings.Repeat("s", 60), int64(i)
	}
	batch := func() *pgx.Batch {
		b := &pgx.Batch{}
		// Two statements: the write buffer holds both, each has its own parameters.
		b.Queue(insert, orgs, ids, sealed, seqs)
		b.Queue(insert, append([]string(nil), orgs...), ids, sealed, seqs)
		return b
	}
	payload := 0
	for _, q := range batch().QueuedQueries {
		for _, a := range q.Arguments {
			payload += argWireSize(a)
		}
	}

	live := &liveTx{conn: conn}
	planPresized(conn.TypeMap())
	sends := map[string]func(*pgx.Batch) pgx.BatchResults{
		"bare connection": func(b *pgx.Batch) pgx.BatchResults { return conn.SendBatch(ctx, b) },
		"live batch":      func(b *pgx.Batch) pgx.BatchResults { return live.SendBatch(ctx, b) },
	}
	allocated := map[string]uint64{}
	for _, name := range []string{"bare connection", "live batch"} {
		send := sends[name]
		// Once to prepare the statement and plan the parameters' encodings.
		if err := send(batch()).Close(); err != nil {
			t.Fatal(err)
		}
		// The least of several sends: whatever else the process runs meanwhile (the
		// race detector's runs, other tests' connections) only adds.
		for i := range 10 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if err := send(batch()).Close(); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; i == 0 || n < allocated[name] {
				allocated[name] = n
			}
		}
	}
	var count int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM rows WHERE length(sealed) = 60`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 2*11*2*n {
		t.Fatalf("%d rows arrived whole, want %d", count, 2*11*2*n)
	}
	t.Logf("a batch of %d bytes of parameters: %d bytes allocated on the bare connection, %d as a live batch",
		payload, allocated["bare connection"], allocated["live batch"])
	// Building the batch (its Queue calls and the copy of orgs) and reading the
	// answers allocate too; the wire and the parameters about once each is twice
	// the payload.
	if limit := uint64(3 * payload); allocated["live batch"] > limit {
		t.Errorf("a live batch allocated %d bytes to send %d bytes of parameters, want at most %d",
			allocated["live batch"], payload, limit)
	}
	if allocated["bare connection"] < 2*allocated["live batch"] {
		t.Errorf("the bare connection allocated %d bytes, the live batch %d: pgx's growth was expected to cost at least twice",
			allocated["bare connection"], allocated["live batch"])
	}
}
