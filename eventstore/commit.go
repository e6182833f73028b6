package eventstore

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// maxCommitBatch bounds how many appends share one atomic batch (the server refuses
// batches over 1,000 messages).
const maxCommitBatch = 200

// groupCommit makes concurrent appends share fsyncs. The embedded server syncs every
// message it stores on its own, so N appends in flight cost N fsyncs one after the
// other; an atomic batch is stored with one. Appends queue here while a batch is in
// flight, and the next batch takes all of them: under load a batch holds what
// arrived during the previous fsync, and an append alone is published alone, as
// before.
//
// Each message keeps its own headers (message id, expected stream, the aggregate's
// expected last sequence), which the server checks per message inside the batch. A
// batch is all or nothing: when the server refuses one (a lost race, a retried
// message id, an old server without atomic publish), every message in it is
// published again on its own, so that each append gets its own answer.
type groupCommit struct {
	js jetstream.JetStream

	mu       sync.Mutex
	queue    []*queuedPublish
	flushing bool
	// single turns batching off: the server refused atomic publish as such.
	single atomic.Bool
	// batches and batched count the batches committed and the appends they held.
	batches, batched atomic.Uint64
}

type queuedPublish struct {
	ctx     context.Context
	msg     *nats.Msg
	checked bool
	done    chan publishResult
}

type publishResult struct {
	ack *jetstream.PubAck
	err error
}

// publish stores msg (its headers already set) and returns the server's ack.
func (g *groupCommit) publish(ctx context.Context, msg *nats.Msg, checked bool) (*jetstream.PubAck, error) {
	q := &queuedPublish{ctx: ctx, msg: msg, checked: checked, done: make(chan publishResult, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, q)
	if !g.flushing {
		g.flushing = true
		go g.flush()
	}
	g.mu.Unlock()
	select {
	case r := <-q.done:
		return r.ack, r.err
	case <-ctx.Done():
		// Like a publish whose ack never came: the message may still be stored.
		return nil, ctx.Err()
	}
}

// flush publishes what is queued, batch after batch, until the queue is empty.
func (g *groupCommit) flush() {
	for {
		batch := g.take()
		if len(batch) == 0 {
			return
		}
		g.commit(batch)
	}
}

// take removes the next batch from the queue: at most maxCommitBatch appends, and at
// most one checked append per subject (a second on the same aggregate made its
// decision without the first and would fail the whole batch; it goes in the next).
func (g *groupCommit) take() []*queuedPublish {
	g.mu.Lock()
	defer g.mu.Unlock()
	var batch, rest []*queuedPublish
	subjects := map[string]bool{}
	for _, q := range g.queue {
		if q.ctx.Err() != nil {
			q.done <- publishResult{err: q.ctx.Err()}
			continue
		}
		if len(batch) == maxCommitBatch || (q.checked && subjects[q.msg.Subject]) {
			rest = append(rest, q)
			continue
		}
		if q.checked {
			subjects[q.msg.Subject] = true
		}
		batch = append(batch, q)
	}
	g.queue = rest
	if len(batch) == 0 {
		g.flushing = false
	}
	return batch
}

func (g *groupCommit) commit(batch []*queuedPublish) {
	if len(batch) == 1 || g.single.Load() {
		for _, q := range batch {
			g.publishOne(q)
		}
		return
	}
	msgs := make([]*nats.Msg, len(batch))
	for i, q := range batch {
		msgs[i] = q.msg
	}
	// The batch's own context: one caller giving up must not fail the others.
	ctx, cancel := context.WithTimeout(context.Background(), g.js.Options().DefaultTimeout)
	ack, err := jetstreamext.PublishMsgBatch(ctx, g.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
	cancel()
	if err == nil && ack.BatchSize == uint64(len(batch)) {
		g.batches.Add(1)
		g.batched.Add(uint64(len(batch)))
		first := ack.Sequence - ack.BatchSize + 1
		for i, q := range batch {
			q.done <- publishResult{ack: &jetstream.PubAck{Stream: ack.Stream, Sequence: first + uint64(i), Domain: ack.Domain}}
		}
		return
	}
	if atomicPublishUnsupported(err) {
		g.single.Store(true)
	}
	for _, q := range batch {
		for _, h := range []string{jetstreamext.BatchIDHeader, jetstreamext.BatchSeqHeader, jetstreamext.BatchCommitHeader} {
			q.msg.Header.Del(h)
		}
		q.msg.Reply = ""
		g.publishOne(q)
	}
}

func (g *groupCommit) publishOne(q *queuedPublish) {
	ack, err := g.js.PublishMsg(q.ctx, q.msg)
	q.done <- publishResult{ack: ack, err: err}
}

// atomicPublishUnsupported says that the server will not take atomic batches on this
// stream at all (disabled, or a server older than 2.12).
func atomicPublishUnsupported(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jsErrAtomicPublishDisabled, jsErrAtomicPublishUnsupportedHeader:
		return true
	}
	return false
}

// JetStream API error codes of atomic publish (nats-server 2.12+).
const (
	jsErrAtomicPublishDisabled          = 10174
	jsErrAtomicPublishUnsupportedHeader = 10177
)

// CommitStats says how many atomic batches group commit has stored and how many
// appends they held, since the store was opened: appends that shared an fsync.
func (s *Store) CommitStats() (batches, appends uint64) {
	return s.commits.batches.Load(), s.commits.batched.Load()
}

// expectHeaders sets the headers a publish option would: the message id, the stream
// and, for a checked append, the aggregate's expected last sequence.
func expectHeaders(msg *nats.Msg, msgID string, checked bool, expected uint64) {
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	msg.Header.Set(jetstream.ExpectedStreamHeader, StreamName)
	if checked {
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expected, 10))
	}
}
