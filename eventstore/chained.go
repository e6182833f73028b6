package eventstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Chained publishes runs of messages to one stream in one go, each message chained
// to the one before it, so that the stream stores a prefix of the run, in order, and
// nothing after a message it did not store:
//   - the first message expects the stream's last sequence (Nats-Expected-Last-Sequence);
//   - each later one expects the stream's last stored message to be the one before it
//     (Nats-Expected-Last-Msg-Id: nats-server keeps the id of the last message it
//     stored, empty for one without an id, and checks it after its duplicate check).
//
// A message that is refused, or that is a duplicate (not stored again), leaves the
// stream's last message another than the one the next message expects, so the next is
// refused too, and so on to the run's end; a message is stored only right after the
// one before it in the run. Every message must carry a Nats-Msg-Id of its own.
//
// PublishInTurn waits for each acknowledgement before the next message goes: a round
// trip through the connection and the server's loops per message (36-46 µs of CPU a
// change notice with the embedded server, BenchmarkPublishStored). A chained run goes
// out in one flush (15-28 µs). Expecting sequences alone (after, after+1, …) is not
// enough for that: when after is behind the stream by k, the first k messages are
// refused and the rest line up with the stream and are stored, after a gap.
//
// Only the run's last message asks for an answer. Its being stored says that every
// message before it was, at the sequences just before its own, so their answers (a
// message each through the server's and the client's loops, decoded on arrival) tell
// nothing more; they were a third of the messages nats-server handled for a create
// (its event, and one notice per environment, each with an answer). When the last one
// is not stored, the run stopped somewhere: Publish reads the stream at the run's
// sequences to find the prefix it stored, then sends the rest again, each message
// asking for its answer, which names the refusal (or stores what was refused for a
// moment).
type Chained struct {
	js     jetstream.JetStream
	nc     *nats.Conn
	stream jetstream.Stream
	// name is the stream's, which the acknowledgements of a run stored name.
	name string

	// mu makes runs one at a time; the fields below are the reply subscription's,
	// made on first use and again after a run that stopped waiting for its answers
	// (whose late answers would otherwise fill the channel).
	mu      sync.Mutex
	prefix  string
	sub     *nats.Subscription
	replies chan *nats.Msg
	run     uint64
}

// NewChained is a chained publisher to stream through js, the store's handle
// (Store.JetStream), so that a run is on disk before Publish returns, as every write
// through it is.
func NewChained(js jetstream.JetStream, stream jetstream.Stream) *Chained {
	return &Chained{js: js, nc: js.Conn(), stream: stream, name: stream.CachedInfo().Config.Name}
}

// ErrNoMsgID refuses a chained run with a message without a Nats-Msg-Id: the next
// message could not name it.
var ErrNoMsgID = errors.New("eventstore: a chained message needs a Nats-Msg-Id")

// Publish publishes msgs as a chained run after the stream's sequence after, and
// returns the acknowledgements, in order, of the messages stored or found stored
// before (Duplicate), up to the first that was neither (a duplicate ends the list
// too: what follows it was refused, or stored right after it), and the error of the
// first message without an acknowledgement. Like every write through the store's
// handle, it returns once what it stored is on disk.
func (c *Chained) Publish(ctx context.Context, after uint64, msgs []*nats.Msg) ([]*jetstream.PubAck, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	for _, m := range msgs {
		if m.Header.Get(jetstream.MsgIDHeader) == "" {
			return nil, fmt.Errorf("publish to %s: %w", m.Subject, ErrNoMsgID)
		}
	}
	ctx, cancel := boundPublish(ctx)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.subscribe(len(msgs)); err != nil {
		return nil, err
	}
	for i, m := range msgs {
		if i == 0 {
			m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(after, 10))
		} else {
			m.Header.Set(jetstream.ExpectedLastMsgIDHeader, msgs[i-1].Header.Get(jetstream.MsgIDHeader))
		}
	}
	acks, err := c.publishRun(ctx, after, msgs)
	if serr := syncRun(ctx, c.js, acks); serr != nil {
		return nil, serr
	}
	return acks, err
}

// publishRun sends the run with an answer asked for its last message only, and makes
// up the others' acknowledgements when it was stored; otherwise it finds the prefix
// stored and sends the rest again, answered one by one.
func (c *Chained) publishRun(ctx context.Context, after uint64, msgs []*nats.Msg) ([]*jetstream.PubAck, error) {
	c.run++
	run := c.prefix + strconv.FormatUint(c.run, 10) + "."
	last := len(msgs) - 1
	for i, m := range msgs {
		m.Reply = ""
		if i == last {
			m.Reply = run + "0"
		}
		if err := c.nc.PublishMsg(m); err != nil {
			// What went before may be stored: the stream says.
			return c.afterStop(ctx, after, msgs, fmt.Errorf("publish to %s: %w", m.Subject, err))
		}
	}
	acks, err := c.acknowledged(ctx, c.collect(ctx, run, 1))
	if err == nil && len(acks) == 1 && !acks[0].Duplicate && acks[0].Sequence == after+uint64(len(msgs)) {
		return c.storedRun(after, len(msgs)), nil
	}
	if ctx.Err() != nil {
		// No answer in time, and none to be had from the stream either.
		return nil, ctx.Err()
	}
	return c.afterStop(ctx, after, msgs, err)
}

// afterStop finds how much of a run the stream stored (reading it at the run's
// sequences, by the messages' ids), and sends the rest again with an answer asked for
// each, which says why it stops, and stores whatever is stored this time. cause is
// the error that stopped the run, returned when the stream cannot be read.
func (c *Chained) afterStop(ctx context.Context, after uint64, msgs []*nats.Msg, cause error) ([]*jetstream.PubAck, error) {
	k, err := c.storedPrefix(ctx, after, msgs)
	if err != nil {
		return nil, errors.Join(cause, err)
	}
	acks := c.storedRun(after, k)
	if k == len(msgs) {
		return acks, nil
	}
	rest := msgs[k:]
	c.run++
	run := c.prefix + strconv.FormatUint(c.run, 10) + "."
	for i, m := range rest {
		m.Reply = run + strconv.Itoa(i)
		if err := c.nc.PublishMsg(m); err != nil {
			more, aerr := c.acknowledged(ctx, c.collect(ctx, run, i))
			return append(acks, more...), cmp.Or(aerr, fmt.Errorf("publish to %s: %w", m.Subject, err))
		}
	}
	more, err := c.acknowledged(ctx, c.collect(ctx, run, len(rest)))
	return append(acks, more...), err
}

// storedPrefix is how many of a run's messages, from the first, the stream holds at
// the sequences after after: a chained message is stored only right after the one
// before it, so the first sequence that holds another message (or none) ends them.
func (c *Chained) storedPrefix(ctx context.Context, after uint64, msgs []*nats.Msg) (int, error) {
	for i, m := range msgs {
		got, err := GetMsg(ctx, c.js, c.stream, MsgRequest{Seq: after + 1 + uint64(i)})
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return i, nil
		}
		if err != nil {
			return 0, fmt.Errorf("chained publish: read back %d: %w", after+1+uint64(i), err)
		}
		if got.Subject != m.Subject || got.Header.Get(jetstream.MsgIDHeader) != m.Header.Get(jetstream.MsgIDHeader) {
			return i, nil
		}
	}
	return len(msgs), nil
}

// storedRun is the acknowledgements of n messages stored on the stream right after
// after.
func (c *Chained) storedRun(after uint64, n int) []*jetstream.PubAck {
	acks := make([]*jetstream.PubAck, n)
	for i := range acks {
		acks[i] = &jetstream.PubAck{Stream: c.name, Sequence: after + 1 + uint64(i)}
	}
	return acks
}

// collect waits for the answers to a run's first n messages, or for ctx to end; the
// answers of earlier runs are passed over. A run that stops waiting drops the
// subscription, so that its late answers go nowhere.
func (c *Chained) collect(ctx context.Context, run string, n int) []*nats.Msg {
	answers := make([]*nats.Msg, n)
	for got := 0; got < n; {
		select {
		case <-ctx.Done():
			c.unsubscribe()
			return answers
		case r := <-c.replies:
			rest, ok := strings.CutPrefix(r.Subject, run)
			if !ok {
				continue
			}
			i, err := strconv.Atoi(rest)
			if err != nil || i < 0 || i >= n || answers[i] != nil {
				continue
			}
			answers[i] = r
			got++
		}
	}
	return answers
}

// acknowledged reads a run's answers in order, up to the first missing, refused or
// duplicate one.
func (c *Chained) acknowledged(ctx context.Context, answers []*nats.Msg) ([]*jetstream.PubAck, error) {
	acks := make([]*jetstream.PubAck, 0, len(answers))
	var stop error
	for _, a := range answers {
		if a == nil {
			stop = cmp.Or[error](ctx.Err(), jetstream.ErrNoStreamResponse)
			break
		}
		if len(a.Data) == 0 && a.Header.Get(headerStatus) == statusNoResponders {
			stop = jetstream.ErrNoStreamResponse
			break
		}
		ack, err := parsePubAck(a.Data)
		if err != nil {
			stop = err
			break
		}
		acks = append(acks, ack)
		if ack.Duplicate {
			break
		}
	}
	return acks, stop
}

// subscribe makes the reply subscription when there is none, or none with room for
// n answers.
func (c *Chained) subscribe(n int) error {
	if c.sub != nil && cap(c.replies) >= n {
		return nil
	}
	c.unsubscribe()
	c.prefix = c.nc.NewInbox() + "."
	c.replies = make(chan *nats.Msg, max(n, 64))
	sub, err := c.nc.ChanSubscribe(c.prefix+"*.*", c.replies)
	if err != nil {
		return fmt.Errorf("chained publish: subscribe: %w", err)
	}
	c.sub = sub
	return nil
}

func (c *Chained) unsubscribe() {
	if c.sub != nil {
		_ = c.sub.Unsubscribe()
		c.sub = nil
	}
}

// IsWrongLastMsgID tells whether err is a stream's refusal of a message that expected
// another last message (Nats-Expected-Last-Msg-Id).
func IsWrongLastMsgID(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeStreamWrongLastMsgID
}

// jsErrCodeStreamWrongLastMsgID is nats-server's JSStreamWrongLastMsgIDErrF, which
// jetstream does not name.
const jsErrCodeStreamWrongLastMsgID jetstream.ErrorCode = 10070
