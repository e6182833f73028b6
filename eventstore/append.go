package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Aggregate names one aggregate in the log.
type Aggregate struct {
	OrgID string
	Type  string
	ID    string
}

// Subject is the aggregate's subject.
func (a Aggregate) Subject() string { return Subject(a.OrgID, a.Type, a.ID) }

// Pending is what one decision appends to one aggregate: its events, in order, stored
// as one message so that they land together or not at all.
type Pending struct {
	Aggregate Aggregate
	// ExpectedSeq is the stream sequence of the aggregate's last event when it was
	// loaded (0 for a new aggregate). Another event since then is a version conflict.
	ExpectedSeq uint64
	// Unchecked appends without a concurrency expectation: for append-only records
	// such as audit events, where no decision depends on the aggregate's state.
	Unchecked bool
	// Position is the first event's place in its aggregate's history (1 for the
	// aggregate's first event: the event count before it, plus one); each further
	// event counts one more. It is bound into each event's AAD, so an event copied to
	// another place in the history does not open.
	Position int
	Events   []domain.Event
	Actor    domain.Actor
	// MsgID de-duplicates retries: the same id within DuplicateWindow is stored once.
	// Empty means none. A checked append needs none: its expectation already refuses
	// a second copy, and every id is an entry the server keeps for the whole window:
	// a fresh id per create, which nothing could ever send again, was 10 MB of the
	// heap after seeding 100,000 secrets (the window's 29 MB fell to 20 MB, the change
	// feed's notice ids and the audit groups' ids the rest).
	MsgID string
	// Idempotency is recorded with the events: the client request they answer.
	Idempotency domain.IdempotencyMark
}

// Appended is what one append recorded: its events, which share one stream sequence.
type Appended []domain.Recorded

// Seq is the stream sequence of the message that holds the events.
func (a Appended) Seq() uint64 {
	if len(a) == 0 {
		return 0
	}
	return a[0].Seq
}

// ErrNoEvents is an append with nothing to record.
var ErrNoEvents = errors.New("eventstore: no events to append")

// Append stores a decision's events, as one message, if the aggregate has not changed
// since ExpectedSeq, and returns them as recorded. A retry with the same MsgID returns
// the first result.
func (s *Store) Append(ctx context.Context, p Pending) (Appended, error) {
	if len(p.Events) == 0 {
		return nil, ErrNoEvents
	}
	// Sealing for an organization whose keys are gone would make it a new key: an
	// erased organization must stay erased, whatever a late command (or a credential a
	// replica still remembers) asks.
	if err := s.notErased(ctx, p.Aggregate.OrgID); err != nil {
		return nil, err
	}
	prep, err := s.prepare(ctx, p)
	if err != nil {
		return nil, err
	}
	if p.Unchecked && p.MsgID == "" {
		// No expectation and no caller's message id: it may share one message (and so
		// one fsync) with the other unchecked appends to its subject waiting with it.
		return s.groups.append(ctx, s, prep)
	}
	env := prep.env
	data, err := marshalEnvelope(&env)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", env.Type, err)
	}
	msg := &nats.Msg{Subject: p.Aggregate.Subject(), Data: data, Header: nats.Header{}}
	msg.Header.Set(headerType, env.Type)
	msg.Header.Set(headerEventID, env.ID)
	if p.MsgID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, p.MsgID)
	}
	if !p.Unchecked {
		msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(p.ExpectedSeq, 10))
	}
	published := time.Now()
	ack, err := s.js.publishLog(ctx, msg)
	s.observeAppend(time.Since(published), classifyAppend(err))
	if err != nil {
		if !IsWrongLastSequence(err) {
			return nil, fmt.Errorf("append %s: %w", env.Type, err)
		}
		// A retry of a publish that did land answers "wrong last sequence" on some
		// servers instead of "duplicate": if the last message is ours, it succeeded.
		key, value := jetstream.MsgIDHeader, p.MsgID
		if value == "" {
			key, value = headerEventID, env.ID
		}
		if recs, ok := s.lastIfHeader(ctx, p.Aggregate.Subject(), key, value); ok {
			return recs, nil
		}
		return nil, fmt.Errorf("append %s to %s: %w", env.Type, p.Aggregate.Subject(), ErrVersionConflict)
	}
	if ack.Duplicate {
		return s.recordAt(ctx, ack.Sequence)
	}
	return prep.recorded(ack.Sequence), nil
}

// prepared is one append's events, identified and sealed, ready to be published alone
// (env) or as part of a coalesced message.
type prepared struct {
	p   Pending
	env envelope
	ids []string
	now time.Time
}

// prepare gives the events their ids and time and seals them into an envelope.
func (s *Store) prepare(ctx context.Context, p Pending) (*prepared, error) {
	// Microseconds: what Postgres keeps, so replays and read models agree to the tick.
	now := s.now().UTC().Truncate(time.Microsecond)
	ids := make([]string, len(p.Events))
	if err := s.ids.fill(now, ids); err != nil {
		return nil, err
	}
	first := p.Events[0]
	env := envelope{
		ID: ids[0], Type: first.EventType(), Schema: domain.SchemaVersion(first.EventType()),
		Org: p.Aggregate.OrgID, AggType: p.Aggregate.Type, AggID: p.Aggregate.ID,
		Position: p.Position, Time: now, Actor: p.Actor,
	}
	if !p.Idempotency.IsZero() {
		mark := p.Idempotency
		env.Idem = &mark
	}
	var err error
	if env.Payload, err = s.seal(ctx, env, env.Position, env.Type, first); err != nil {
		return nil, err
	}
	for i, ev := range p.Events[1:] {
		part := envelopeEvent{ID: ids[i+1], Type: ev.EventType(), Schema: domain.SchemaVersion(ev.EventType())}
		if part.Payload, err = s.seal(ctx, env, env.Position+i+1, part.Type, ev); err != nil {
			return nil, err
		}
		env.More = append(env.More, part)
	}
	return &prepared{p: p, env: env, ids: ids, now: now}, nil
}

// recorded is the append's events as stored at seq.
func (a *prepared) recorded(seq uint64) Appended {
	out := make(Appended, len(a.p.Events))
	for i, ev := range a.p.Events {
		out[i] = domain.Recorded{
			Seq: seq, EventID: a.ids[i], OrgID: a.env.Org, AggregateType: a.env.AggType,
			AggregateID: a.env.AggID, Time: a.now, Actor: a.p.Actor, Event: ev, Idempotency: a.p.Idempotency,
		}
	}
	return out
}

// size is roughly what the append adds to a message, in bytes.
func (a *prepared) size() int {
	n := len(a.env.Payload) + 256
	for _, m := range a.env.More {
		n += len(m.Payload) + 128
	}
	return n
}

// classifyAppend names a publish error for the append observer: a lost race is a
// version conflict, whatever error code the server used for it.
func classifyAppend(err error) error {
	if err != nil && IsWrongLastSequence(err) {
		return fmt.Errorf("%w: %w", ErrVersionConflict, err)
	}
	return err
}

// IsWrongLastSequence reports whether err is JetStream refusing a publish whose expected
// last sequence (of the stream or of the subject) is not the stream's: another writer
// got there first. Its code 10164 (isSubjectBusy) may also mean that the subject's last
// write was still being applied; the store's handle sends a write again while that is
// so (retryBusy), and it counts as a lost race only after that.
func IsWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// lastIfHeader returns the subject's last message when its header key holds value.
// An append without a message id knows its message by its event id, which only a
// resend of this very publish carries.
func (s *Store) lastIfHeader(ctx context.Context, subject, key, value string) (Appended, bool) {
	raw, err := s.getMsg(ctx, MsgRequest{LastFor: subject})
	if err != nil || raw.Header.Get(key) != value {
		return nil, false
	}
	recs, err := s.decode(ctx, raw.Sequence, raw.Data)
	return recs, err == nil
}

// recordAt reads the events stored at seq.
func (s *Store) recordAt(ctx context.Context, seq uint64) (Appended, error) {
	raw, err := s.getMsg(ctx, MsgRequest{Seq: seq})
	if err != nil {
		return nil, fmt.Errorf("get event %d: %w", seq, err)
	}
	return s.decode(ctx, raw.Sequence, raw.Data)
}

// MessageID derives a message id from a caller's idempotency key, scoped by who sent
// it and what it is about, so that two users' keys never collide.
func MessageID(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + 3
	}
	return string(AppendMessageID(make([]byte, 0, n), parts...))
}

// AppendMessageID appends MessageID(parts...) to dst: the parts quoted, between bars.
func AppendMessageID(dst []byte, parts ...string) []byte {
	for i, p := range parts {
		if i > 0 {
			dst = append(dst, '|')
		}
		dst = strconv.AppendQuote(dst, p)
	}
	return dst
}
