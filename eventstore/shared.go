package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bounds of one shared message (AppendShared), the same as a coalesced one's: a
// caller that groups decisions stops adding before either is passed.
const (
	MaxSharedEvents = maxGroupEvents
	MaxSharedBytes  = maxGroupBytes
)

// EventsSize is roughly what events add to a message once sealed: their JSON,
// base64-encoded with the seal's overhead, plus the envelope's fields. A caller
// bounding a shared message counts with it (MaxSharedBytes).
func EventsSize(events []domain.Event) (int, error) {
	n := 0
	for _, ev := range events {
		plain, err := json.Marshal(ev)
		if err != nil {
			return 0, fmt.Errorf("encode %s: %w", ev.EventType(), err)
		}
		n += (len(plain)+64)*4/3 + 256
	}
	return n, nil
}

// ErrSharedAppend is a shared append whose parts do not follow each other on one
// aggregate: a caller's bug, never retried.
var ErrSharedAppend = errors.New("eventstore: the parts of a shared append must be consecutive decisions on one aggregate")

// AppendShared stores several decisions on one aggregate, made one after the other
// (each on the state the previous ones leave), as ONE message under the first
// one's expected sequence: one fsync for all of them, and all of them land or none
// does. Each part keeps its own actor, time, versions and idempotency mark
// (envelopeEvent.Own), and is answered with its own events as recorded, all at the
// message's sequence. A lost race is ErrVersionConflict for the whole message.
//
// Parts are checked appends without a caller's message id: a message id
// de-duplicates one request's retries, and a message holding several requests has
// none of them to carry (the store gives it a fresh one, so that its own publish
// retries are still stored once).
func (s *Store) AppendShared(ctx context.Context, parts []Pending) ([]Appended, error) {
	if len(parts) == 0 {
		return nil, ErrNoEvents
	}
	first := parts[0]
	version := first.Position
	for i, p := range parts {
		if len(p.Events) == 0 {
			return nil, ErrNoEvents
		}
		if p.Aggregate != first.Aggregate || p.Unchecked || p.MsgID != "" || p.Position != version ||
			(i > 0 && p.ExpectedSeq != first.ExpectedSeq) {
			return nil, ErrSharedAppend
		}
		version += len(p.Events)
	}
	if err := s.notErased(ctx, first.Aggregate.OrgID); err != nil {
		return nil, err
	}
	preps := make([]*prepared, len(parts))
	for i, p := range parts {
		prep, err := s.prepare(ctx, p)
		if err != nil {
			return nil, err
		}
		preps[i] = prep
	}
	env := combined(preps)
	data, err := marshalEnvelope(&env)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", env.Type, err)
	}
	subject := first.Aggregate.Subject()
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(headerType, env.Type)
	msg.Header.Set(headerEventID, env.ID)
	published := time.Now()
	// No message id, as in publishGroup: the expectation refuses a second copy, and
	// the message is known by its event id.
	msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(first.ExpectedSeq, 10))
	ack, err := s.js.publishLog(ctx, msg)
	s.observeAppend(time.Since(published), classifyAppend(err))
	var seq uint64
	switch {
	case err == nil:
		seq = ack.Sequence
	case IsWrongLastSequence(err):
		// As in Append: a publish retried after it landed may answer "wrong last
		// sequence"; the event id (fresh, this message's own) says whether it did.
		recs, ok := s.lastIfHeader(ctx, subject, headerEventID, env.ID)
		if !ok {
			return nil, fmt.Errorf("append %d decisions to %s: %w", len(parts), subject, ErrVersionConflict)
		}
		seq = recs.Seq()
	default:
		return nil, fmt.Errorf("append %s: %w", env.Type, err)
	}
	s.sharedMsgs.Add(1)
	s.sharedParts.Add(uint64(len(parts)))
	out := make([]Appended, len(preps))
	for i, prep := range preps {
		out[i] = prep.recorded(seq)
	}
	return out, nil
}

// SharedMessages counts the shared messages (AppendShared) this store has
// published and the decisions they held, for tests and diagnostics.
func (s *Store) SharedMessages() (messages, decisions uint64) {
	return s.sharedMsgs.Load(), s.sharedParts.Load()
}
