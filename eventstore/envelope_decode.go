package eventstore

import (
	"encoding/json"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/domain/jsonscan"
)

// unmarshalEnvelope decodes a stored message into env. Every message this store
// writes is json.Marshal of an envelope: compact, its keys in one spelling, its
// strings mostly without escapes. Those are read by scanEnvelope without reflection
// (encoding/json's was half of what opening an event cost, and opening events is
// most of a replay and of a rebuild's follower); anything else, from escapes to
// unknown keys, whitespace or malformed input, goes to encoding/json as before, so
// the result and the errors are encoding/json's (TestScanEnvelopeMatchesEncodingJSON).
func unmarshalEnvelope(data []byte, env *envelope) error {
	var fast envelope
	if scanEnvelope(data, &fast) {
		*env = fast
		return nil
	}
	return json.Unmarshal(data, env)
}

// envelopeScanner reads the compact JSON of an envelope. Each method returns false
// as soon as the input is not in the shape it reads, and the caller then leaves the
// whole message to encoding/json.
type envelopeScanner struct {
	jsonscan.Scanner
}

// scanEnvelope reads data into env without encoding/json, if it can.
func scanEnvelope(data []byte, env *envelope) bool {
	return (&envelopeScanner{jsonscan.New(data)}).envelope(env)
}

func (s *envelopeScanner) envelope(env *envelope) bool {
	ok := s.Fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "id":
			bit, ok = 1<<0, s.Str(&env.ID)
		case "type":
			bit, ok = 1<<1, s.Str(&env.Type)
		case "schema":
			bit, ok = 1<<2, s.Number(&env.Schema)
		case "org":
			bit, ok = 1<<3, s.Str(&env.Org)
		case "agg_type":
			bit, ok = 1<<4, s.Str(&env.AggType)
		case "agg_id":
			bit, ok = 1<<5, s.Str(&env.AggID)
		case "version":
			bit, ok = 1<<6, s.Number(&env.Position)
		case "time":
			bit, ok = 1<<7, s.Instant(&env.Time)
		case "actor":
			bit, ok = 1<<8, s.actor(&env.Actor)
		case "payload":
			bit, ok = 1<<9, s.Str(&env.Payload)
		case "more":
			bit, ok = 1<<10, s.more(&env.More)
		case "idem":
			env.Idem = new(domain.IdempotencyMark)
			bit, ok = 1<<11, s.idem(env.Idem)
		}
		return bit, ok
	})
	return ok && s.Done()
}

func (s *envelopeScanner) more(out *[]envelopeEvent) bool {
	events := []envelopeEvent{}
	ok := s.Array(func() bool {
		var e envelopeEvent
		ok := s.Fields(func(key []byte) (bit uint32, ok bool) {
			switch string(key) {
			case "id":
				bit, ok = 1<<0, s.Str(&e.ID)
			case "type":
				bit, ok = 1<<1, s.Str(&e.Type)
			case "schema":
				bit, ok = 1<<2, s.Number(&e.Schema)
			case "payload":
				bit, ok = 1<<3, s.Str(&e.Payload)
			case "own":
				e.Own = &eventOwner{}
				bit, ok = 1<<4, s.owner(e.Own)
			}
			return bit, ok
		})
		events = append(events, e)
		return ok
	})
	if ok {
		*out = events
	}
	return ok
}

func (s *envelopeScanner) owner(o *eventOwner) bool {
	return s.Fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "version":
			bit, ok = 1<<0, s.Number(&o.Position)
		case "time":
			bit, ok = 1<<1, s.Instant(&o.Time)
		case "actor":
			bit, ok = 1<<2, s.actor(&o.Actor)
		case "idem":
			o.Idem = new(domain.IdempotencyMark)
			bit, ok = 1<<3, s.idem(o.Idem)
		}
		return bit, ok
	})
}

func (s *envelopeScanner) actor(a *domain.Actor) bool {
	return s.Fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "user_id":
			bit, ok = 1<<0, s.Str(&a.UserID)
		case "token_id":
			bit, ok = 1<<1, s.Str(&a.TokenID)
		case "ip":
			bit, ok = 1<<2, s.Str(&a.IP)
		case "user_agent":
			bit, ok = 1<<3, s.Str(&a.UserAgent)
		}
		return bit, ok
	})
}

func (s *envelopeScanner) idem(m *domain.IdempotencyMark) bool {
	return s.Fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "key":
			bit, ok = 1<<0, s.Str(&m.Key)
		case "request":
			bit, ok = 1<<1, s.Str(&m.Request)
		}
		return bit, ok
	})
}
