package changefeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Stored is a change notice as the change stream stores it: Data is the
// wire.SealedChangeNotice (its name sealed with the organization's data key, never in
// clear), and Seq, Part, OrgID and Env are what its subject, message id and place in
// the feed's order derive from. The projector keeps notices in this form in its outbox
// (a Postgres table) between the batch that produced them and their publication, so
// that what waits there holds no name in clear either.
type Stored struct {
	Seq   uint64
	Part  int
	OrgID string
	Env   string
	Data  []byte
}

// Position is a notice's place in the feed's order: its event's sequence, then its
// part among that event's notices. The stream holds notices in this order.
type Position struct {
	Seq  uint64
	Part int
}

// Position is the notice's place in the feed's order.
func (s Stored) Position() Position { return Position{Seq: s.Seq, Part: s.Part} }

// After tells whether p comes after q in the feed's order.
func (p Position) After(q Position) bool {
	return p.Seq > q.Seq || (p.Seq == q.Seq && p.Part > q.Part)
}

// Seal turns a notice into its stored form: the name sealed with the organization's
// existing data key (none when it has none: an erased organization gets no key back).
func (c *Changes) Seal(ctx context.Context, n wire.ChangeNotice) (Stored, error) {
	sealed, err := c.sealName(ctx, n)
	if err != nil {
		return Stored{}, err
	}
	return storedForm(n, sealed)
}

// SealRun turns notices into their stored forms, in order, as Seal does, but the
// notices of one event about one secret (a create's or an update's environments, the
// writers one group commit gathered) share one sealed name: its AAD binds the
// organization, the secret and the event's sequence, which they share, so sealing it
// again for each gave the same name under the same key and AAD at the cost of another
// AES-GCM seal (three a create).
func (c *Changes) SealRun(ctx context.Context, ns []wire.ChangeNotice) ([]Stored, error) {
	out := make([]Stored, len(ns))
	var (
		prev   wire.ChangeNotice
		sealed string
	)
	for i, n := range ns {
		if i == 0 || n.OrgID != prev.OrgID || n.SecretID != prev.SecretID || n.Seq != prev.Seq || n.Name != prev.Name {
			var err error
			if sealed, err = c.sealName(ctx, n); err != nil {
				return nil, err
			}
			prev = n
		}
		s, err := storedForm(n, sealed)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// storedForm is n as the stream stores it, with its name sealed as sealed.
func storedForm(n wire.ChangeNotice, sealed string) (Stored, error) {
	stored := wire.SealedChangeNotice{ChangeNotice: n, NameSealed: sealed}
	stored.Name = ""
	data, err := marshalSealedNotice(&stored)
	if err != nil {
		return Stored{}, fmt.Errorf("encode change: %w", err)
	}
	return Stored{Seq: n.Seq, Part: n.Part, OrgID: n.OrgID, Env: n.Env, Data: data}, nil
}

// storedMessage is the message that stores s: its subject, the event's sequence as a
// header (resuming by event sequence searches by it), and a message id derived from
// the notice's position and environment, so that a notice published twice within the
// duplicate window is stored once. The part is in the id: one message of the log may
// hold several writers' changes of one environment (group commit), and with the
// event's sequence and environment alone every notice after the first was taken for
// a duplicate of it and never stored.
//
// The header's values share one array, and its map has room for the expectation a
// publisher adds: set one by one, each value was an allocation of its own, nine a
// create.
func storedMessage(s Stored) *nats.Msg {
	seq := strconv.FormatUint(s.Seq, 10)
	id := seq + "." + s.Env
	if s.Part > 0 {
		id = seq + "." + strconv.Itoa(s.Part) + "." + s.Env
	}
	vals := [...]string{seq, id, ChangesStream}
	h := make(nats.Header, len(vals)+1)
	h[headerEventSeq] = vals[0:1:1]
	h[jetstream.MsgIDHeader] = vals[1:2:2]
	h[jetstream.ExpectedStreamHeader] = vals[2:3:3]
	return &nats.Msg{Subject: Subject(wire.ChangeNotice{OrgID: s.OrgID, Env: s.Env}), Data: s.Data, Header: h}
}

// Tail is where the change stream ends: its last stream sequence, and the position of
// the last notice it holds (zero when it holds none). A publisher that stores notices
// in the feed's order starts from it: every notice up to that position is stored, and
// none after it.
func (c *Changes) Tail(ctx context.Context) (uint64, Position, error) {
	info, err := c.stream.Info(ctx)
	if err != nil {
		return 0, Position{}, fmt.Errorf("changes info: %w", err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return last, Position{}, nil
	}
	m, err := eventstore.GetMsg(ctx, c.js, c.stream, eventstore.MsgRequest{LastFor: ChangesSubjectPrefix + ".>"})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return last, Position{}, nil
	}
	if err != nil {
		return 0, Position{}, fmt.Errorf("changes last notice: %w", err)
	}
	var n wire.SealedChangeNotice
	if err := json.Unmarshal(m.Data, &n); err != nil {
		return 0, Position{}, fmt.Errorf("changes last notice %d: %w", m.Sequence, err)
	}
	// The stream's last sequence may have moved on since Info (another publisher):
	// the message just read is at least as new.
	return max(last, m.Sequence), Position{Seq: n.Seq, Part: n.Part}, nil
}

// ErrOutOfTurn is a publish of stored notices that did not follow on from the stream
// sequence it expected: another publisher stored something in between, or a notice
// was a duplicate of one stored before (which stores nothing). The publisher reads the
// Tail again and goes on from there.
var ErrOutOfTurn = errors.New("changefeed: the change stream moved on under the publisher")

// PublishStored stores notices, in order, after the stream's sequence after. Where the
// servers sync each write (a cluster), many (minChangeBatch or more) go as one atomic
// batch, fewer one by one, each expecting the stream's last sequence to be the one the
// notice before it got. Where the store syncs its writes itself (the embedded server),
// they go as one chained run (eventstore.Chained: the first expecting the stream's
// last sequence, each later one the notice before it as the stream's last message),
// which shares one sync: 15-28 µs of CPU a notice against 36-46 one by one, and 114 as
// an atomic batch, which the server stages in a temporary store of its own
// (BenchmarkPublishStored). A notice that is not stored stops the ones after it, so the
// stream never holds notices out of order or with a gap, whatever fails, and a
// publisher that raced this one makes it stop rather than interleave. It returns how
// many notices, from the first, are stored (a duplicate counts as stored: its first
// copy is), and the stream's sequence after them.
func (c *Changes) PublishStored(ctx context.Context, after uint64, notices []Stored) (int, uint64, error) {
	if len(notices) >= minChangeBatch && c.chain == nil && !c.single.Load() {
		if last, ok := c.publishAtomic(ctx, after, notices); ok {
			return len(notices), last, nil
		}
	}
	msgs := make([]*nats.Msg, len(notices))
	for i, s := range notices {
		msgs[i] = storedMessage(s)
	}
	var (
		acks []*jetstream.PubAck
		err  error
	)
	if c.chain != nil {
		acks, err = c.chain.Publish(ctx, after, msgs)
	} else {
		acks, err = eventstore.PublishInTurn(ctx, c.js, msgs, func(_ int, prev *jetstream.PubAck) ([]jetstream.PublishOpt, bool) {
			switch {
			case prev == nil:
				return []jetstream.PublishOpt{jetstream.WithExpectLastSequence(after)}, true
			case prev.Duplicate:
				return nil, false
			}
			return []jetstream.PublishOpt{jetstream.WithExpectLastSequence(prev.Sequence)}, true
		})
	}
	last := after
	for i, ack := range acks {
		if ack.Duplicate {
			// Stored before, and the stream did not move: what follows it may be
			// stored too. The caller reads the tail and goes on from there.
			return i + 1, last, fmt.Errorf("change %d.%d was stored before: %w", notices[i].Seq, notices[i].Part, ErrOutOfTurn)
		}
		last = ack.Sequence
	}
	if err != nil {
		if eventstore.IsWrongLastSequence(err) || eventstore.IsWrongLastMsgID(err) {
			err = fmt.Errorf("%w: %w", ErrOutOfTurn, err)
		}
		if len(acks) < len(notices) {
			s := notices[len(acks)]
			err = fmt.Errorf("publish change %d.%d: %w", s.Seq, s.Part, err)
		}
		return len(acks), last, err
	}
	return len(acks), last, nil
}

// publishAtomic stores many notices as one JetStream atomic batch: one sync for all
// of them instead of one each (a round after a burst of writes, or a backlog). The
// first expects the stream's last sequence to be after; the batch lands whole or not
// at all. When it does not (the server takes no atomic batches, another publisher got
// in first, a notice was stored before), ok is false and nothing of it is stored: the
// caller publishes the notices one by one, which says how far they get.
func (c *Changes) publishAtomic(ctx context.Context, after uint64, notices []Stored) (last uint64, ok bool) {
	msgs := make([]*nats.Msg, len(notices))
	for i, s := range notices {
		msgs[i] = storedMessage(s)
	}
	msgs[0].Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(after, 10))
	ack, err := eventstore.PublishMsgBatch(ctx, c.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
	if err == nil && ack.BatchSize == uint64(len(msgs)) {
		return ack.Sequence, true
	}
	if atomicPublishRefused(err) {
		c.single.Store(true)
	}
	return 0, false
}
