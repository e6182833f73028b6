package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// Header names that travel in clear beside the sealed payload. Ids and the type only:
// names, descriptions and values are inside the payload.
const (
	headerType    = "Kl-Type"
	headerEventID = "Kl-Event-Id"
)

// envelope is the stored form of one command's events: one message in the log. Its
// own fields describe the first event; More holds the events the same decision made
// after it, so that they land atomically, under one expected sequence. Each Payload is
// the event's JSON sealed with the organization's data key and bound to org,
// aggregate, version (the event's) and type.
type envelope struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Schema   int             `json:"schema"`
	Org      string          `json:"org"`
	AggType  string          `json:"agg_type"`
	AggID    string          `json:"agg_id"`
	Position int             `json:"version"`
	Time     time.Time       `json:"time"`
	Actor    domain.Actor    `json:"actor"`
	Payload  string          `json:"payload"`
	More     []envelopeEvent `json:"more,omitempty"`
	// Idem is the client request the events answer (hashes only), so that a retry
	// after a crash finds its first result in the log.
	Idem *domain.IdempotencyMark `json:"idem,omitempty"`
}

// envelopeEvent is one further event of a multi-event message; its version is the
// envelope's plus its position (1 for the first of More).
//
// A coalesced message (several callers' unchecked appends to one subject, written as
// one message: appendGroup) starts each further caller's events with Own: from that
// event on, the events are that caller's, with its actor, time and idempotency mark,
// and positions count from Own.Position. Messages without Own (every message written
// before coalescing existed) decode as they always did.
type envelopeEvent struct {
	ID      string      `json:"id"`
	Type    string      `json:"type"`
	Schema  int         `json:"schema"`
	Payload string      `json:"payload"`
	Own     *eventOwner `json:"own,omitempty"`
}

// eventOwner is what a coalesced message records per caller: what an envelope's own
// fields record for its first caller.
type eventOwner struct {
	Position int                     `json:"version"`
	Time     time.Time               `json:"time"`
	Actor    domain.Actor            `json:"actor"`
	Idem     *domain.IdempotencyMark `json:"idem,omitempty"`
}

func (e envelope) aad(version int, eventType string) []byte {
	return []byte("keyledger/event/" + e.Org + "/" + e.AggType + "/" + e.AggID + "/" + strconv.Itoa(version) + "/" + eventType)
}

func (s *Store) seal(ctx context.Context, env envelope, version int, eventType string, ev domain.Event) (string, error) {
	plain, err := json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", eventType, err)
	}
	sealed, err := s.keys.Seal(ctx, env.Org, plain, env.aad(version, eventType))
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", eventType, err)
	}
	return sealed, nil
}

// decode opens one stored message into the events it records, in order.
func (s *Store) decode(ctx context.Context, seq uint64, data []byte) ([]domain.Recorded, error) {
	var env envelope
	if err := unmarshalEnvelope(data, &env); err != nil {
		return nil, fmt.Errorf("event %d: envelope: %w", seq, err)
	}
	return s.open(ctx, seq, &env)
}

// open opens the events of an envelope already read, stored at seq.
func (s *Store) open(ctx context.Context, seq uint64, env *envelope) ([]domain.Recorded, error) {
	return s.records(ctx, seq, env, true)
}

// records lists the events of an envelope stored at seq, each with what its envelope
// says in clear (ids, type, owner, time). With sealed, each payload is opened and
// decoded into the record's Event; without, Event is nil and no key is used: what a
// scan passes over (ScanOptions.Open) costs no decryption and no decoding.
func (s *Store) records(ctx context.Context, seq uint64, env *envelope, sealed bool) ([]domain.Recorded, error) {
	if at, ok := s.erased.get(env.Org); ok {
		// Its keys are destroyed: nothing of it is opened, not even an event sealed
		// under a key that a command racing the erasure created.
		return nil, fmt.Errorf("event %d: %w", seq, &ErasedError{OrgID: env.Org, Seq: at})
	}
	out := make([]domain.Recorded, 0, 1+len(env.More))
	owner := eventOwner{Position: env.Position, Time: env.Time, Actor: env.Actor, Idem: env.Idem}
	first := 0 // the position of the current owner's first event
	for i := range 1 + len(env.More) {
		p := envelopeEvent{ID: env.ID, Type: env.Type, Schema: env.Schema, Payload: env.Payload}
		if i > 0 {
			p = env.More[i-1]
		}
		if p.Own != nil {
			owner, first = *p.Own, i
		}
		rec := domain.Recorded{
			Seq: seq, EventID: p.ID, OrgID: env.Org, AggregateType: env.AggType,
			AggregateID: env.AggID, Time: owner.Time, Actor: owner.Actor,
		}
		if owner.Idem != nil {
			rec.Idempotency = *owner.Idem
		}
		if sealed {
			plain, err := s.keys.Open(ctx, env.Org, p.Payload, env.aad(owner.Position+i-first, p.Type))
			if err != nil {
				return nil, fmt.Errorf("event %d (%s): %w", seq, p.Type, s.erasedEvent(ctx, env.Org, err))
			}
			if rec.Event, err = domain.DecodeEvent(p.Type, p.Schema, plain); err != nil {
				return nil, fmt.Errorf("event %d: %w", seq, err)
			}
		}
		out = append(out, rec)
	}
	return out, nil
}
