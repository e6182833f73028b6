package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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

// Status headers of a direct get's replies, and of a publish's.
const (
	headerStatus   = "Status"
	statusEOB      = "204"
	statusNotFound = "404"
	// statusNoResponders answers a request nobody listens to (no stream, for a
	// publish: Chained reads it).
	statusNoResponders = "503"
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
	rctx, cancel := context.WithTimeout(ctx, s.nc.Opts.Timeout)
	defer cancel()
	req, err := json.Marshal(bareBatchRequest{Seq: from, Batch: want, NoHeaders: true})
	if err != nil {
		return batchRead{}, err
	}
	// A plain inbox, not a response inbox (NewRespInbox): the connection's request
	// multiplexer subscribes to every response inbox and would get each reply too.
	inbox := s.nc.NewInbox()
	sub, err := s.nc.SubscribeSync(inbox)
	if err != nil {
		return batchRead{}, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := s.nc.PublishRequest(s.directGetSubject(), inbox, req); err != nil {
		return batchRead{}, err
	}
	var data [][]byte
	var end nats.Header
	for end == nil {
		m, err := sub.NextMsgWithContext(rctx)
		if err != nil {
			if rctx.Err() != nil && ctx.Err() == nil {
				return batchRead{}, fmt.Errorf("%w: no end of batch in %s", errShortRead, s.nc.Opts.Timeout)
			}
			return batchRead{}, err
		}
		switch {
		case len(m.Header) == 0:
			data = append(data, m.Data)
		case len(m.Data) == 0 && m.Header.Get(headerStatus) == statusEOB:
			end = m.Header
		case len(m.Data) == 0 && m.Header.Get(headerStatus) == statusNotFound && len(data) == 0:
			// Nothing at or after from.
			return batchRead{complete: true}, nil
		case len(m.Data) > 0:
			// A message with headers: a server that does not know no_hdr (or one
			// without batches at all). Read with headers from now on.
			s.headersOnly.Store(true)
			return batchRead{}, errNotBare
		default:
			return batchRead{}, errNotBare
		}
	}
	last, ok := headerUint(end, headerLastSeq)
	pending, okPending := headerUint(end, headerNumPending)
	if !ok || !okPending || len(data) == 0 || last != from+uint64(len(data))-1 {
		return batchRead{}, errNotBare
	}
	envs := make([]envelope, len(data))
	for i, d := range data {
		if unmarshalEnvelope(d, &envs[i]) != nil {
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
			recs, err := s.recordsFor(ctx, q, seq, &envs[i])
			if err != nil {
				return r, err
			}
			out.Events = append(out.Events, recs...)
			out.LastSeq = seq
			r.kept++
		}
		r.last = seq
		r.read++
	}
	r.complete = pending == 0
	return r, nil
}

// directGetSubject is where the events stream answers direct gets, under the
// connection's JetStream API prefix.
func (s *Store) directGetSubject() string { return APIPrefix(s.js) + "DIRECT.GET." + StreamName }
