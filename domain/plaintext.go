package domain

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
