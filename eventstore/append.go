package eventstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// Aggregate names one aggregate in the log.
type Aggregate struct {
	OrgID string
	Type  string
	ID    string
}

// Subject is the aggregate's subject.
func (a Aggregate) Subject() string { return Subject(a.OrgID, a.Type, a.ID) }

// Pending is one event to append.
type Pending struct {
	Aggregate Aggregate
	// ExpectedSeq is the stream sequence of the aggregate's last event when it was
	// loaded (0 for a new aggregate). Another event since then is a version conflict.
	ExpectedSeq uint64
	// Unchecked appends without a concurrency expectation: for append-only records
	// such as audit events, where no decision depends on the aggregate's state.
	Unchecked bool
	// Version is the aggregate's version after this event (its event count).
	Version int
	Event   domain.Event
	Actor   domain.Actor
	// MsgID de-duplicates retries: the same id within DuplicateWindow is stored once.
	// Empty means a fresh id.
	MsgID string
}

// Append stores one event if the aggregate has not changed since ExpectedSeq, and
// returns it as recorded. A retry with the same MsgID returns the first result.
func (s *Store) Append(ctx context.Context, p Pending) (domain.Recorded, error) {
	// Microseconds: what Postgres keeps, so replays and read models agree to the tick.
	now := s.now().UTC().Truncate(time.Microsecond)
	id, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		return domain.Recorded{}, fmt.Errorf("event id: %w", err)
	}
	env := envelope{
		ID: id.String(), Type: p.Event.EventType(), Schema: domain.SchemaVersion(p.Event.EventType()),
		Org: p.Aggregate.OrgID, AggType: p.Aggregate.Type, AggID: p.Aggregate.ID,
		Version: p.Version, Time: now, Actor: p.Actor,
	}
	data, err := s.sealEnvelope(ctx, env, p.Event)
	if err != nil {
		return domain.Recorded{}, err
	}
	msgID := p.MsgID
	if msgID == "" {
		msgID = env.ID
	}
	msg := &nats.Msg{Subject: p.Aggregate.Subject(), Data: data, Header: nats.Header{}}
	msg.Header.Set(headerType, env.Type)
	msg.Header.Set(headerEventID, env.ID)
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(msgID), jetstream.WithExpectStream(StreamName)}
	if !p.Unchecked {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(p.ExpectedSeq))
	}
	ack, err := s.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		if !isWrongLastSequence(err) {
			return domain.Recorded{}, fmt.Errorf("append %s: %w", env.Type, err)
		}
		// A retry of a publish that did land answers "wrong last sequence" on some
		// servers instead of "duplicate": if the last message is ours, it succeeded.
		if rec, ok := s.lastIfOurs(ctx, p.Aggregate.Subject(), msgID); ok {
			return rec, nil
		}
		return domain.Recorded{}, fmt.Errorf("append %s to %s: %w", env.Type, p.Aggregate.Subject(), ErrVersionConflict)
	}
	if ack.Duplicate {
		return s.recordAt(ctx, ack.Sequence)
	}
	return domain.Recorded{
		Seq: ack.Sequence, EventID: env.ID, OrgID: env.Org, AggregateType: env.AggType,
		AggregateID: env.AggID, Time: now, Actor: p.Actor, Event: p.Event,
	}, nil
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

func (s *Store) lastIfOurs(ctx context.Context, subject, msgID string) (domain.Recorded, bool) {
	raw, err := s.stream.GetLastMsgForSubject(ctx, subject)
	if err != nil || raw.Header.Get(jetstream.MsgIDHeader) != msgID {
		return domain.Recorded{}, false
	}
	rec, err := s.decode(ctx, raw.Sequence, raw.Data)
	return rec, err == nil
}

// recordAt reads the event stored at seq.
func (s *Store) recordAt(ctx context.Context, seq uint64) (domain.Recorded, error) {
	raw, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return domain.Recorded{}, fmt.Errorf("get event %d: %w", seq, err)
	}
	return s.decode(ctx, raw.Sequence, raw.Data)
}

// MessageID derives a message id from a caller's idempotency key, scoped by who sent
// it and what it is about, so that two users' keys never collide.
func MessageID(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '|')
		}
		b = append(b, strconv.Quote(p)...)
	}
	return string(b)
}
