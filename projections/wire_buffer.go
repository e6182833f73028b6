package projections

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// A live batch's statements travel in one write: pgx encodes every message of a
// batch into its connection's write buffer and sends it at once. After every send
// it drops a buffer larger than 1 kB for a new 1 kB one, and appending a batch's
// ~30 kB to that grows it a quarter at a time: some fifteen allocations and about
// five times the batch's bytes, for every batch (pgproto3's Bind.Encode was 15 % of
// the bytes the server allocated in the create phase at 100,000 secrets). The
// collector's pace follows those bytes under the memory goal. reserveWire grows the
// buffer once, to what the batch will take, before pgx writes into it.

// reserveWire is a frontend message of no bytes that leaves the write buffer able
// to take n more without growing. pgx sends nothing for it (Flush writes what the
// buffer holds, and it adds nothing). With a scratch, the buffer it leaves is the
// scratch's for conn, when that is large enough (wireScratch.lendWire).
type reserveWire struct {
	n       int
	scratch *wireScratch
	conn    *pgconn.PgConn
}

func (r reserveWire) Encode(dst []byte) ([]byte, error) {
	return r.scratch.lendWire(r.conn, dst, r.n), nil
}

func (reserveWire) Decode([]byte) error {
	return errors.New("projections: reserveWire is never received")
}

func (reserveWire) Frontend() {}

// grow returns b with room for n more bytes, in one allocation when it has not:
// slices.Grow appends a slice of n zeros, which the race detector's builds allocate
// besides.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	g := make([]byte, len(b), len(b)+n)
	copy(g, b)
	return g
}

// A live batch's buffers are lent to pgx from one batch to the next. Grown once per
// batch, they were still a tenth of the bytes the server allocated in the create
// phase at 100,000 secrets: the write buffer and the parameters' of every statement
// over 512 bytes, some 5 kB a create, all of it garbage once the batch was sent (pgx
// drops a write buffer over 1 kB after every send, and a parameter buffer over 256
// bytes before every statement).
//
// Lending a buffer is safe as long as nothing else writes into it while pgx may:
//   - pgx encodes a statement's parameters into its parameter buffer and copies them
//     into the write buffer (the statement's Bind) before it builds the next
//     statement's, and every build begins by dropping a buffer over 256 bytes. The
//     parameter buffer is only ever written by the builds of the batch it is lent
//     to, one statement after the other: one buffer serves every statement of every
//     batch, whichever connection sends it.
//   - pgx keeps writing into its write buffer until a send drops it: a send of 1 kB or
//     less keeps it (Flush), and so does a batch that fails before its send. A write
//     buffer is therefore lent to one connection only (conn), which holds it between
//     the live projector's batches and writes into it only while the connection is
//     held, as the projector does when it lends it again. A batch on another
//     connection gets a buffer of its own, which the scratch then keeps for that one.

// maxScratch bounds what a scratch keeps: a larger batch (a burst after a pause)
// allocates its buffers for itself, and they go with it.
const maxScratch = 1 << 20

// wireScratch holds the buffers a live projector lends pgx for its batches (above).
// Only the projector's goroutine uses it; a nil scratch lends nothing, and every batch
// then allocates its buffers once.
type wireScratch struct {
	params []byte
	wire   []byte
	// conn is the connection wire is lent to.
	conn *pgconn.PgConn
}

// lendWire is dst, conn's write buffer, with room for n more bytes: in the scratch's
// write buffer when that is conn's and large enough, else in a new buffer that the
// scratch keeps for conn (a buffer lent to another connection is left to it).
func (s *wireScratch) lendWire(conn *pgconn.PgConn, dst []byte, n int) []byte {
	if s == nil {
		return grow(dst, n)
	}
	if s.conn != conn {
		s.wire, s.conn = nil, conn
	}
	return lend(&s.wire, dst, n)
}

// lendParams is buf, a statement's parameter buffer, with room for n more bytes: in
// the scratch's parameter buffer when that is large enough, else in a new one that the
// scratch keeps.
func (s *wireScratch) lendParams(buf []byte, n int) []byte {
	if s == nil {
		return grow(buf, n)
	}
	return lend(&s.params, buf, n)
}

// lend is b with room for n more bytes: in kept when that is large enough, else in a
// new buffer that kept then holds (up to maxScratch). b may be kept itself, which a
// connection kept: the copy moves it onto itself.
func lend(kept *[]byte, b []byte, n int) []byte {
	if cap(*kept) >= len(b)+n {
		return append((*kept)[:0], b...)
	}
	g := grow(b, n)
	if cap(g) <= maxScratch {
		*kept = g[:0]
	}
	return g
}

// bindOverhead is what a statement's Bind, Describe and Execute messages take
// besides its parameters' values, with room for the statement's name and formats.
const bindOverhead = 96

// arrayHeader is a one-dimensional array's header in PostgreSQL's binary format.
const arrayHeader = 20

// argWireSize is about the bytes a parameter takes in a Bind message: its length
// word and its value, a binary array's header and a length word per element. Types
// the projector does not send are guessed small; the estimate only sizes a buffer.
func argWireSize(a any) int {
	const word = 4
	switch v := a.(type) {
	case nil:
		return word
	case string:
		return word + len(v)
	case []byte:
		return word + len(v)
	case []string:
		return word + arrayHeader + word*len(v) + textLen(v)
	case [][]byte:
		return word + arrayHeader + word*len(v) + textLen(v)
	case []*string:
		n := word + arrayHeader + word*len(v)
		for _, s := range v {
			if s != nil {
				n += len(*s)
			}
		}
		return n
	case []int64:
		return word + arrayHeader + (word+8)*len(v)
	case []int32:
		return word + arrayHeader + (word+4)*len(v)
	case []int:
		return word + arrayHeader + (word+8)*len(v)
	case []time.Time:
		return word + arrayHeader + (word+8)*len(v)
	case []bool:
		return word + arrayHeader + (word+1)*len(v)
	default:
		return word + 16
	}
}

// textLen is the bytes of v's elements.
func textLen[T ~string | ~[]byte](v []T) int {
	n := 0
	for _, s := range v {
		n += len(s)
	}
	return n
}

// The parameters' values go through a buffer of their own first: pgx encodes a
// statement's parameters one after the other into it, and before every statement
// drops it for a new 256-byte one when it grew larger. A statement of a live batch
// sends some kilobytes of arrays, and the buffer grew to them a quarter at a time
// again for each (pgtype's encodings of strings and bytes, 12 % of the create
// phase's allocations). presized carries a statement's first parameter with the
// size of them all, and its encode plan grows the buffer to that before it encodes
// the value as pgx would have.

// presized is a parameter's value v, sent as v is, with the bytes n of its
// statement's parameters and the scratch that lends their buffer (nil: none).
type presized[T any] struct {
	v       T
	n       int
	scratch *wireScratch
}

// presizer is what tryWrapPresized recognizes of every presized.
type presizer interface {
	presizedPlan() pgtype.WrappedEncodePlanNextSetter
	value() any
}

func (p presized[T]) presizedPlan() pgtype.WrappedEncodePlanNextSetter {
	return &presizedPlan[T]{}
}

func (p presized[T]) value() any { return p.v }

// presizedPlan grows the buffer for its presized value, then encodes the value with
// next, the plan pgx chose for it.
type presizedPlan[T any] struct{ next pgtype.EncodePlan }

func (pl *presizedPlan[T]) SetNext(next pgtype.EncodePlan) { pl.next = next }

func (pl *presizedPlan[T]) Encode(value any, buf []byte) ([]byte, error) {
	p := value.(presized[T])
	return pl.next.Encode(p.v, p.scratch.lendParams(buf, p.n))
}

// tryWrapPresized is the pgtype.TryWrapEncodePlanFunc for presized values: pgx plans
// each presized type once per type map and column type, and the plan it finds for
// the value within is next.
func tryWrapPresized(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	p, ok := value.(presizer)
	if !ok {
		return nil, nil, false
	}
	return p.presizedPlan(), p.value(), true
}

// planPresized makes m able to encode presized values.
func planPresized(m *pgtype.Map) {
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapPresized}, m.TryWrapEncodePlanFuncs...)
}

// planPresizedOnConnect is the read models' pool's AfterConnect: every connection
// plans presized values when it is made (a live batch's comes from that pool, a
// rebuild's from a copy of its configuration), then does what next did, if any.
func planPresizedOnConnect(next func(context.Context, *pgx.Conn) error) func(context.Context, *pgx.Conn) error {
	return func(ctx context.Context, c *pgx.Conn) error {
		planPresized(c.TypeMap())
		if next == nil {
			return nil
		}
		return next(ctx, c)
	}
}

// minPresized is the parameters' size from which a statement's first is presized:
// pgx's buffer starts at 256 bytes.
const minPresized = 512

// sizeBatch readies b and conn for b's encoding: each statement's first parameter
// carries the size of them all (presized) when that is over minPresized, and conn's
// write buffer grows once to what b's messages take (reserveWire), both in buffers
// that scratch lends when it is not nil. A first
// parameter of a type argWireSize does not size, or already presized, stays as it
// is; the sizes are estimates, and an estimate short of the mark costs only the
// growth it was to spare.
func sizeBatch(conn *pgconn.PgConn, b *pgx.Batch, scratch *wireScratch) {
	wire := 16 // Sync
	for _, q := range b.QueuedQueries {
		n := 0
		for _, a := range q.Arguments {
			n += argWireSize(a)
		}
		wire += bindOverhead + n
		if n < minPresized {
			continue
		}
		switch v := q.Arguments[0].(type) {
		case []string:
			q.Arguments[0] = presized[[]string]{v: v, n: n, scratch: scratch}
		case []int64:
			q.Arguments[0] = presized[[]int64]{v: v, n: n, scratch: scratch}
		}
	}
	if wire > 1024 {
		conn.Frontend().Send(reserveWire{n: wire, scratch: scratch, conn: conn})
	}
}
