package eventstore

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/keyledger/keyledger/domain"
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
	if (&envelopeScanner{data: data}).envelope(&fast) {
		*env = fast
		return nil
	}
	return json.Unmarshal(data, env)
}

// envelopeScanner reads the compact JSON of an envelope. Each method returns false
// as soon as the input is not in the shape it reads, and the caller then leaves the
// whole message to encoding/json.
type envelopeScanner struct {
	data []byte
	pos  int
}

func (s *envelopeScanner) envelope(env *envelope) bool {
	ok := s.fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "id":
			bit, ok = 1<<0, s.str(&env.ID)
		case "type":
			bit, ok = 1<<1, s.str(&env.Type)
		case "schema":
			bit, ok = 1<<2, s.number(&env.Schema)
		case "org":
			bit, ok = 1<<3, s.str(&env.Org)
		case "agg_type":
			bit, ok = 1<<4, s.str(&env.AggType)
		case "agg_id":
			bit, ok = 1<<5, s.str(&env.AggID)
		case "version":
			bit, ok = 1<<6, s.number(&env.Position)
		case "time":
			bit, ok = 1<<7, s.instant(&env.Time)
		case "actor":
			bit, ok = 1<<8, s.actor(&env.Actor)
		case "payload":
			bit, ok = 1<<9, s.str(&env.Payload)
		case "more":
			bit, ok = 1<<10, s.more(&env.More)
		case "idem":
			env.Idem = new(domain.IdempotencyMark)
			bit, ok = 1<<11, s.idem(env.Idem)
		}
		return bit, ok
	})
	return ok && s.pos == len(s.data)
}

func (s *envelopeScanner) more(out *[]envelopeEvent) bool {
	if !s.eat('[') {
		return false
	}
	events := []envelopeEvent{}
	if s.eat(']') {
		*out = events
		return true
	}
	for {
		var e envelopeEvent
		ok := s.fields(func(key []byte) (bit uint32, ok bool) {
			switch string(key) {
			case "id":
				bit, ok = 1<<0, s.str(&e.ID)
			case "type":
				bit, ok = 1<<1, s.str(&e.Type)
			case "schema":
				bit, ok = 1<<2, s.number(&e.Schema)
			case "payload":
				bit, ok = 1<<3, s.str(&e.Payload)
			case "own":
				e.Own = &eventOwner{}
				bit, ok = 1<<4, s.owner(e.Own)
			}
			return bit, ok
		})
		if !ok {
			return false
		}
		events = append(events, e)
		if s.eat(']') {
			*out = events
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

func (s *envelopeScanner) owner(o *eventOwner) bool {
	return s.fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "version":
			bit, ok = 1<<0, s.number(&o.Position)
		case "time":
			bit, ok = 1<<1, s.instant(&o.Time)
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
	return s.fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "user_id":
			bit, ok = 1<<0, s.str(&a.UserID)
		case "token_id":
			bit, ok = 1<<1, s.str(&a.TokenID)
		case "ip":
			bit, ok = 1<<2, s.str(&a.IP)
		case "user_agent":
			bit, ok = 1<<3, s.str(&a.UserAgent)
		}
		return bit, ok
	})
}

func (s *envelopeScanner) idem(m *domain.IdempotencyMark) bool {
	return s.fields(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "key":
			bit, ok = 1<<0, s.str(&m.Key)
		case "request":
			bit, ok = 1<<1, s.str(&m.Request)
		}
		return bit, ok
	})
}

// fields reads an object whose keys the scanner knows, each at most once: field reads
// the value of key and returns the key's bit (0: a key the scanner does not know) and
// whether the value was read. An unknown key, a value it cannot read, or a key given
// twice (encoding/json's to merge) is false: the envelope goes to encoding/json.
func (s *envelopeScanner) fields(field func(key []byte) (bit uint32, ok bool)) bool {
	var seen uint32
	return s.object(func(key []byte) bool {
		bit, ok := field(key)
		if !ok || bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// object reads {"key":value,...}, calling member with each key, the scanner on the
// value that follows the colon.
func (s *envelopeScanner) object(member func(key []byte) bool) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	for {
		key, ok := s.raw()
		if !ok || !s.eat(':') || !member(key) {
			return false
		}
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

func (s *envelopeScanner) eat(c byte) bool {
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// raw reads a string with nothing to unescape or replace: no backslash, no control
// character, and valid UTF-8 (encoding/json replaces invalid bytes), and returns its
// bytes without the quotes.
func (s *envelopeScanner) raw() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.pos
	ascii := true
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			b := s.data[start:s.pos]
			s.pos++
			if !ascii && !utf8.Valid(b) {
				return nil, false
			}
			return b, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.pos++
	}
	return nil, false
}

func (s *envelopeScanner) str(out *string) bool {
	b, ok := s.raw()
	if ok {
		*out = string(b)
	}
	return ok
}

// number reads a non-negative integer as JSON writes it (no leading zero, no fraction or
// exponent) that fits an int.
func (s *envelopeScanner) number(out *int) bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	digits := s.data[start:s.pos]
	if len(digits) == 0 || (len(digits) > 1 && digits[0] == '0') {
		return false
	}
	if s.pos < len(s.data) {
		if c := s.data[s.pos]; c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	n, err := strconv.Atoi(string(digits))
	if err != nil {
		return false
	}
	*out = n
	return true
}

// instant reads a time as encoding/json does: time.Time's UnmarshalJSON of the quoted
// string.
func (s *envelopeScanner) instant(out *time.Time) bool {
	start := s.pos
	if _, ok := s.raw(); !ok {
		return false
	}
	quoted := s.data[start:s.pos]
	if bytes.IndexByte(quoted, '\\') >= 0 {
		return false
	}
	return out.UnmarshalJSON(quoted) == nil
}
