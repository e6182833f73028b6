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

// A live projector lends its batches the same buffers from one batch to the next
// (wireScratch): after the first, a batch's send allocates neither a write buffer nor
// parameter buffers, and what arrives is each batch's own rows, whole, whichever of
// two connections sends it, and after a batch that failed before its send left the
// lent write buffer to its connection.
func TestALiveBatchReusesItsBuffers(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	conns := make([]*pgx.Conn, 2)
	for i := range conns {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		planPresized(c.TypeMap())
		conns[i] = c
	}
	if _, err := conns[0].Exec(ctx, `CREATE TABLE rows (org text, id text, sealed text, seq bigint)`); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO rows SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[])`
	const n = 1000
	orgs, ids, seqs := make([]string, n), make([]string, n), make([]int64, n)
	for i := range n {
		orgs[i], ids[i], seqs[i] = "6f1c2d3e-0000-4000-8000-000000000001", fmt.Sprintf("6f1c2d3e-0000-4000-8000-%012d", i), int64(i)
	}
	// Batch round's rows are sealed with its own letter: a buffer written over
	// before pgx sent it would leave rows of another round's letter, or torn ones.
	batch := func(round int) *pgx.Batch {
		sealed := make([]string, n)
		for i := range sealed {
			sealed[i] = strings.Repeat(string(rune('a'+round%26)), 60)
		}
		b := &pgx.Batch{}
		b.Queue(insert, orgs, ids, sealed, seqs)
		b.Queue(insert, orgs, ids, sealed, seqs)
		return b
	}
	payload := 0
	for _, q := range batch(0).QueuedQueries {
		for _, a := range q.Arguments {
			payload += argWireSize(a)
		}
	}
	scratch := &wireScratch{}
	sent := map[int]int{} // rows sent, by round
	send := func(conn *pgx.Conn, s *wireScratch, round int) uint64 {
		t.Helper()
		b := batch(round)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := (&liveTx{conn: conn, scratch: s}).SendBatch(ctx, b).Close()
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		sent[round%26] += 2 * n
		return after.TotalAlloc - before.TotalAlloc
	}
	// The first sends prepare the statement and plan the encodings on each
	// connection, and give the scratch its buffers.
	round := 0
	for _, c := range conns {
		send(c, scratch, round)
		round++
	}
	least := func(conn *pgx.Conn, s *wireScratch) uint64 {
		var m uint64
		for i := range 10 {
			if a := send(conn, s, round); i == 0 || a < m {
				m = a
			}
			round++
		}
		return m
	}
	// The scratch's write buffer is the second connection's now.
	lent := least(conns[1], scratch)
	alone := least(conns[1], nil)
	t.Logf("a batch of %d bytes of parameters: %d bytes allocated with its buffers lent, %d without", payload, lent, alone)
	// Building the batch allocates its sealed texts (n strings of 60 bytes) and its
	// queue; neither buffer should be allocated again.
	if limit := uint64(payload / 2); lent > limit {
		t.Errorf("a batch sent with lent buffers allocated %d bytes, want at most %d (its parameters take %d)", lent, limit, payload)
	}
	if alone < lent+uint64(payload) {
		t.Errorf("a batch without lent buffers allocated %d bytes, with them %d: the buffers (%d bytes and more) were expected to be the difference", alone, lent, payload)
	}

	// Between sends on one connection, and from one connection to the other.
	for i := range 6 {
		send(conns[i%2], scratch, round)
		round++
	}
	// A batch that fails before its send (its last parameter cannot be encoded)
	// leaves the write buffer lent to it, with what was encoded so far, to its
	// connection; the next sends on that connection, lent or not, go whole.
	bad := batch(round)
	bad.Queue(insert, orgs, ids, []string{"x"}, []string{"not a number"})
	if err := (&liveTx{conn: conns[0], scratch: scratch}).SendBatch(ctx, bad).Close(); err == nil {
		t.Fatal("a batch with a parameter pgx cannot encode was sent")
	}
	round++
	if _, err := conns[0].Exec(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		send(conns[0], scratch, round)
		round++
		send(conns[i%2], nil, round)
		round++
	}

	rows, err := conns[0].Query(ctx, `SELECT sealed, count(*) FROM rows GROUP BY sealed`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for rows.Next() {
		var s string
		var c int
		if err := rows.Scan(&s, &c); err != nil {
			t.Fatal(err)
		}
		if len(s) != 60 || strings.Trim(s, s[:1]) != "" {
			t.Fatalf("%d rows arrived sealed %q: torn", c, s)
		}
		got[int(s[0]-'a')] += c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for r, want := range sent {
		if got[r] != want {
			t.Errorf("rows sealed %q: %d arrived, %d were sent", rune('a'+r), got[r], want)
		}
	}
	if len(got) != len(sent) {
		t.Errorf("rows of %d letters arrived, %d were sent", len(got), len(sent))
	}
}
