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
// buffer holds, and it adds nothing).
type reserveWire int

func (n reserveWire) Encode(dst []byte) ([]byte, error) { return grow(dst, int(n)), nil }

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
		n := word + arrayHeader + word*len(v)
		for _, s := range v {
			n += len(s)
		}
		return n
	case [][]byte:
		n := word + arrayHeader + word*len(v)
		for _, s := range v {
			n += len(s)
		}
		return n
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

// The parameters' values go through a buffer of their own first: pgx encodes a
// statement's parameters one after the other into it, and before every statement
// drops it for a new 256-byte one when it grew larger. A statement of a live batch
// sends some kilobytes of arrays, and the buffer grew to them a quarter at a time
// again for each (pgtype's encodings of strings and bytes, 12 % of the create
// phase's allocations). presized carries a statement's first parameter with the
// size of them all, and its encode plan grows the buffer to that before it encodes
// the value as pgx would have.

// presized is a parameter's value v, sent as v is, with the bytes n of its
// statement's parameters.
type presized[T any] struct {
	v T
	n int
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
	return pl.next.Encode(p.v, grow(buf, p.n))
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
// write buffer grows once to what b's messages take (reserveWire). A first
// parameter of a type argWireSize does not size, or already presized, stays as it
// is; the sizes are estimates, and an estimate short of the mark costs only the
// growth it was to spare.
func sizeBatch(conn *pgconn.PgConn, b *pgx.Batch) {
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
			q.Arguments[0] = presized[[]string]{v: v, n: n}
		case []int64:
			q.Arguments[0] = presized[[]int64]{v: v, n: n}
		}
	}
	if wire > 1024 {
		conn.Frontend().Send(reserveWire(wire))
	}
}
