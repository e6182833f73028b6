// Package jsonscan reads the compact JSON that encoding/json's Marshal writes, without
// reflection, for the few shapes that are read in bulk: the log's envelopes
// (eventstore) and the events inside them (domain). It owns the reading of one value
// at a time and nothing else: each caller says which keys its objects have.
//
// A Scanner is strict: it reads only what it can read exactly as encoding/json would
// (no whitespace, no escapes, keys spelled as written, each at most once, integers
// without sign, fraction or exponent, valid UTF-8), and returns false on anything
// else. Its callers then hand the whole input to encoding/json, so that the result
// and the errors are always encoding/json's; their tests fuzz the two against each
// other. Like domain, it imports the standard library only.
package jsonscan

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
)

// Scanner reads one JSON text from its start.
type Scanner struct {
	data []byte
	pos  int
}

// New starts a Scanner at the beginning of data.
func New(data []byte) Scanner { return Scanner{data: data} }

// Done reports whether everything was read: a value followed by anything is not JSON
// that a scan may accept.
func (s *Scanner) Done() bool { return s.pos == len(s.data) }

// Fields reads an object whose keys the caller knows, each at most once: field reads
// the value of key and returns the key's bit (0: a key the caller does not know) and
// whether the value was read. An unknown key, a value it cannot read, or a key given
// twice (encoding/json's to merge) is false.
func (s *Scanner) Fields(field func(key []byte) (bit uint32, ok bool)) bool {
	var seen uint32
	return s.Object(func(key []byte) bool {
		bit, ok := field(key)
		if !ok || bit == 0 || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

// Object reads {"key":value,...}, calling member with each key, the scanner on the
// value that follows the colon.
func (s *Scanner) Object(member func(key []byte) bool) bool {
	if !s.Eat('{') {
		return false
	}
	if s.Eat('}') {
		return true
	}
	for {
		key, ok := s.Raw()
		if !ok || !s.Eat(':') || !member(key) {
			return false
		}
		if s.Eat('}') {
			return true
		}
		if !s.Eat(',') {
			return false
		}
	}
}

// Array reads [value,...], calling element with the scanner on each value.
func (s *Scanner) Array(element func() bool) bool {
	if !s.Eat('[') {
		return false
	}
	if s.Eat(']') {
		return true
	}
	for {
		if !element() {
			return false
		}
		if s.Eat(']') {
			return true
		}
		if !s.Eat(',') {
			return false
		}
	}
}

// maxDepth bounds the objects and arrays Skip reads inside one another, as
// encoding/json bounds its own (10,000), so that a hostile input cannot grow the stack
// without end.
const maxDepth = 10000

// Skip reads one value of any kind without keeping it: a string (see Raw), a number
// as JSON writes it (a sign, no leading zero, a fraction and an exponent allowed),
// true, false, null, or an object or array of such values.
func (s *Scanner) Skip() bool { return s.skip(0) }

func (s *Scanner) skip(depth int) bool {
	if s.pos == len(s.data) {
		return false
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		_, ok := s.Raw()
		return ok
	case c == '{':
		return depth < maxDepth && s.Object(func([]byte) bool { return s.skip(depth + 1) })
	case c == '[':
		return depth < maxDepth && s.Array(func() bool { return s.skip(depth + 1) })
	case c == 't':
		return s.word("true")
	case c == 'f':
		return s.word("false")
	case c == 'n':
		return s.word("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.anyNumber()
	}
	return false
}

// word reads the literal w.
func (s *Scanner) word(w string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(w)) {
		return false
	}
	s.pos += len(w)
	return true
}

// anyNumber reads a number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) anyNumber() bool {
	s.Eat('-')
	if !s.Eat('0') && s.digits() == 0 {
		return false
	}
	if s.Eat('.') && s.digits() == 0 {
		return false
	}
	if s.Eat('e') || s.Eat('E') {
		if !s.Eat('+') {
			s.Eat('-')
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// digits reads the decimal digits that come next and says how many.
func (s *Scanner) digits() int {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}

// Peek returns the next byte without reading it, 0 at the end.
func (s *Scanner) Peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// Eat reads the byte c, if it is next.
func (s *Scanner) Eat(c byte) bool {
	if s.pos < len(s.data) && s.data[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// Raw reads a string with nothing to unescape or replace: no backslash, no control
// character, and valid UTF-8 (encoding/json replaces invalid bytes), and returns its
// bytes without the quotes.
func (s *Scanner) Raw() ([]byte, bool) {
	if !s.Eat('"') {
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

// Str reads a string (see Raw) into out.
func (s *Scanner) Str(out *string) bool {
	b, ok := s.Raw()
	if ok {
		*out = string(b)
	}
	return ok
}

// Number reads a non-negative integer as JSON writes it (no leading zero, no fraction
// or exponent) that fits an int.
func (s *Scanner) Number(out *int) bool {
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

// Instant reads a time as encoding/json does: time.Time's UnmarshalJSON of the quoted
// string.
func (s *Scanner) Instant(out *time.Time) bool {
	start := s.pos
	if _, ok := s.Raw(); !ok {
		return false
	}
	quoted := s.data[start:s.pos]
	if bytes.IndexByte(quoted, '\\') >= 0 {
		return false
	}
	return out.UnmarshalJSON(quoted) == nil
}
