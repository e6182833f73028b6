package domain

import "strings"

// Plaintext holds a secret value in the clear. Its String, GoString and MarshalJSON
// print "[redacted]" so that a value that slips into a log line, an error or a JSON
// document by accident does not leak. Reveal() is the one deliberate way out.
//
// The value sits behind a pointer because fmt bypasses String and GoString in two cases:
// verbs such as %d or %t, and a Plaintext held in an unexported struct field. There fmt
// prints the fields themselves, and a pointer below the top level prints as an address,
// never as the string it points to.
type Plaintext struct{ s *string }

// NewPlaintext wraps a clear value.
func NewPlaintext(s string) Plaintext { return Plaintext{s: &s} }

// Reveal returns the clear value. Call it only where the value must leave the process.
func (p Plaintext) Reveal() string {
	if p.s == nil {
		return ""
	}
	return *p.s
}

// Len is the value's length in bytes.
func (p Plaintext) Len() int { return len(p.Reveal()) }

func (p Plaintext) String() string   { return "[redacted]" }
func (p Plaintext) GoString() string { return "[redacted]" }

// MarshalJSON never emits the value.
func (p Plaintext) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// Plaintexts holds many values in the clear, one after another in one buffer: a fetch
// of an environment's 100,000 values took two objects per value as Plaintexts (the
// string and its pointer), and the collector had to find and free each. It prints as
// "[redacted]" as Plaintext does, and its buffer sits behind a pointer for the same
// reason. The zero value holds none; NewPlaintexts makes one to Add to.
type Plaintexts struct{ p *plaintexts }

type plaintexts struct {
	b    strings.Builder
	ends []int
}

// NewPlaintexts returns an empty list with room for n values of size bytes in all.
func NewPlaintexts(n, size int) Plaintexts {
	p := &plaintexts{ends: make([]int, 0, n)}
	p.b.Grow(size)
	return Plaintexts{p: p}
}

// Add appends a value (copied).
func (p Plaintexts) Add(v []byte) {
	p.p.b.Write(v)
	p.p.ends = append(p.p.ends, p.p.b.Len())
}

// Len is the number of values.
func (p Plaintexts) Len() int {
	if p.p == nil {
		return 0
	}
	return len(p.p.ends)
}

// Reveal returns value i in clear. Call it only where the value must leave the process.
func (p Plaintexts) Reveal(i int) string {
	start := 0
	if i > 0 {
		start = p.p.ends[i-1]
	}
	return p.p.b.String()[start:p.p.ends[i]]
}

func (p Plaintexts) String() string   { return "[redacted]" }
func (p Plaintexts) GoString() string { return "[redacted]" }

// MarshalJSON never emits the values.
func (p Plaintexts) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }
