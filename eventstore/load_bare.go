package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// readBatch reads up to want messages of q from sequence from into out, the way
// getBatch does. An unfiltered read asks for the messages without headers first
// (getBareBatch), and goes the way of getBatch when that cannot give a sure answer.
func (s *Store) readBatch(ctx context.Context, q batchQuery, from uint64, want int, out *Loaded) (batchRead, error) {
	if q.unfiltered && !s.headersOnly.Load() {
		r, err := s.getBareBatch(ctx, q, from, want, out)
		if !errors.Is(err, errNotBare) {
			return r, err
		}
	}
	return s.getBatch(ctx, q, from, want, out)
}

// errNotBare means a bare batch (getBareBatch) could not say which message is which:
// nothing of it was kept, and the batch is read again with the server's headers.
var errNotBare = errors.New("the batch cannot be read without headers")

// bareBatchRequest is a batched direct get whose messages come without headers.
type bareBatchRequest struct {
	Seq       uint64 `json:"seq"`
	Batch     int    `json:"batch"`
	NoHeaders bool   `json:"no_hdr"`
}

// Status headers of a direct get's replies.
const (
	headerStatus   = "Status"
	statusEOB      = "204"
	statusNotFound = "404"
)

// getBareBatch is getBatch for an unfiltered read, with the messages sent without
// their headers (the direct get's no_hdr). A batch with headers costs the server six
// headers it formats for each message (Nats-Stream, -Subject, -Sequence, -Time-Stamp,
// -Num-Pending, -Last-Sequence, after the message's own) and the client a map of them
// it parses: together about a quarter of a replay's CPU, and much of its garbage.
//
// Without headers a message says neither its sequence nor its subject. The sequences
// are counted from from: the batch ends with the server's end marker, which names the
// last sequence it sent, and n messages from from that end at from+n-1 are every
// sequence between, in order (the replies of one request arrive in the order sent).
// Whose a message is comes from its envelope, which names the organization, aggregate
// and id that its subject is made of, and which open reads anyway; the others'
// messages are passed over unopened, as their subjects were. A batch that does not
// add up (a gap in the stream, a lost reply, an envelope that cannot be read, a server
// that sent headers regardless) keeps nothing and answers errNotBare, and readBatch
// reads it again with headers, which tell every case apart as before.
func (s *Store) getBareBatch(ctx context.Context, q batchQuery, from uint64, want int, out *Loaded) (batchRead, error) {
	bufs := q.buffers()
	var ahead *readAhead
	if q.bufs != nil && (q.until == 0 || from+uint64(want) <= q.until) {
		// A scan's next batch is asked for as soon as this one has arrived (unless
		// this one reaches the scan's limit).
		ahead = &bufs.ahead
	}
	data, pending, err := s.fetchBare(ctx, from, want, bufs.data[:0], ahead)
	defer func() {
		// The replies are not kept past the batch: the buffers drop them.
		clear(data)
		bufs.data = data[:0]
	}()
	if err != nil || len(data) == 0 {
		return batchRead{complete: err == nil}, err
	}
	if cap(bufs.envs) < len(data) {
		bufs.envs = make([]envelope, len(data))
	}
	envs := bufs.envs[:len(data)]
	for i, d := range data {
		// Zeroed first: encoding/json, which reads what the scanner cannot, would
		// keep the fields of the previous batch's envelope that a message lacks.
		envs[i] = envelope{}
		if unmarshalEnvelopeWith(d, &envs[i], bufs.names) != nil {
			return batchRead{}, errNotBare
		}
	}
	scope := q.scope()
	var r batchRead
	for i := range envs {
		seq := from + uint64(i)
		if q.until > 0 && seq > q.until {
			r.pastUntil = true
			return r, nil
		}
		if envs[i].Org == scope {
			out.Events, err = s.recordsFor(ctx, q, seq, &envs[i], out.Events)
			if err != nil {
				return r, err
			}
			out.LastSeq = seq
			r.kept++
		}
		r.last = seq
		r.read++
	}
	r.complete = pending == 0
	return r, nil
}

// fetchBare asks for up to want messages of the stream from sequence from without
// their headers, and appends them to data: the messages at from, from+1, and so on
// (see getBareBatch). pending is the end marker's count of the messages pending: from
// the batch's first message on when the log did not grow while it was read
// (nats-server counts down only in the headers it writes), or after its last when it
// did; zero only when nothing follows. Nothing at or after from is no message
// and no error; a batch whose messages do not add up to the sequences its end marker
// names is errNotBare, and one that ended before its end marker errShortRead.
//
// With ahead, a batch that ahead already asked for is taken from it, and once a full
// batch has arrived with more pending, the next one is asked for into ahead: the
// server reads it while the caller opens this one. A scan's batches were strictly one
// after the other, the server idle while the scan opened a batch and the scan idle
// while the server read the next.
func (s *Store) fetchBare(ctx context.Context, from uint64, want int, data [][]byte, ahead *readAhead) (_ [][]byte, pending uint64, _ error) {
	var req bareRequest
	if ahead != nil {
		req = ahead.take(from, want)
	}
	if req.sub == nil {
		var err error
		if req, err = s.askBare(from, want); err != nil {
			return data, 0, err
		}
	}
	defer req.drop()
	// The time to answer runs from now, not from when a batch asked for ahead was
	// asked: its replies may have waited in the subscription's queue for longer than
	// the timeout while the caller was busy (a follower whose projector lags), and an
	// expired context ends NextMsgWithContext before it looks at the queue.
	rctx, cancel := context.WithTimeout(ctx, s.nc.Opts.Timeout)
	defer cancel()
	given := len(data)
	var end nats.Header
	for end == nil {
		m, err := req.sub.NextMsgWithContext(rctx)
		if err != nil {
			if rctx.Err() != nil && ctx.Err() == nil {
				return data[:given], 0, fmt.Errorf("%w: no end of batch in %s", errShortRead, s.nc.Opts.Timeout)
			}
			return data[:given], 0, err
		}
		switch {
		case len(m.Header) == 0:
			data = append(data, m.Data)
		case len(m.Data) == 0 && m.Header.Get(headerStatus) == statusEOB:
			end = m.Header
		case len(m.Data) == 0 && m.Header.Get(headerStatus) == statusNotFound && len(data) == given:
			// Nothing at or after from.
			return data, 0, nil
		case len(m.Data) > 0:
			// A message with headers: a server that does not know no_hdr (or one
			// without batches at all). Read with headers from now on.
			s.headersOnly.Store(true)
			return data[:given], 0, errNotBare
		default:
			return data[:given], 0, errNotBare
		}
	}
	last, ok := headerUint(end, headerLastSeq)
	pending, okPending := headerUint(end, headerNumPending)
	n := uint64(len(data) - given)
	if !ok || !okPending || n == 0 || last != from+n-1 {
		return data[:given], 0, errNotBare
	}
	if ahead != nil && n == uint64(want) && pending > n {
		if next, err := s.askBare(from+n, want); err == nil {
			ahead.put(next, from+n, want)
		}
	}
	return data, pending, nil
}

// bareRequest is a bare batch asked for: the subscription its replies come to.
type bareRequest struct {
	sub *nats.Subscription
}

// drop ends the request's subscription; replies still on their way are dropped.
func (r bareRequest) drop() {
	if r.sub != nil {
		_ = r.sub.Unsubscribe()
	}
}

// askBare asks for up to want messages from sequence from, without headers.
func (s *Store) askBare(from uint64, want int) (bareRequest, error) {
	req, err := json.Marshal(bareBatchRequest{Seq: from, Batch: want, NoHeaders: true})
	if err != nil {
		return bareRequest{}, err
	}
	// A plain inbox, not a response inbox (NewRespInbox): the connection's request
	// multiplexer subscribes to every response inbox and would get each reply too.
	inbox := s.nc.NewInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return bareRequest{}, err
	}
	if err := s.nc.PublishRequest(s.directGetSubject(), inbox, req); err != nil {
		_ = sub.Unsubscribe()
		return bareRequest{}, err
	}
	return bareRequest{sub: sub}, nil
}

// readAhead holds the one bare batch a scan asked for before it needed it (fetchBare).
// Its owner drops it when the scan ends.
type readAhead struct {
	req  bareRequest
	from uint64
	want int
}

// put keeps req, the batch of want messages from sequence from, in place of any other.
func (a *readAhead) put(req bareRequest, from uint64, want int) {
	a.drop()
	a.req, a.from, a.want = req, from, want
}

// take returns the batch asked for ahead if it is the one wanted; any other is
// dropped, and the caller asks for its own.
func (a *readAhead) take(from uint64, want int) bareRequest {
	req := a.req
	match := a.from == from && a.want == want
	a.req = bareRequest{}
	if !match {
		req.drop()
		return bareRequest{}
	}
	return req
}

// drop ends the batch asked for ahead, if any.
func (a *readAhead) drop() {
	a.req.drop()
	a.req = bareRequest{}
}

// directGetSubject is where the events stream answers direct gets, under the
// connection's JetStream API prefix.
func (s *Store) directGetSubject() string {
	opts := s.js.Options()
	prefix := "$JS.API."
	switch {
	case opts.APIPrefix != "":
		prefix = opts.APIPrefix
		if !strings.HasSuffix(prefix, ".") {
			prefix += "."
		}
	case opts.Domain != "":
		prefix = "$JS." + opts.Domain + ".API."
	}
	return prefix + "DIRECT.GET." + StreamName
}
