// Package jsonappend appends JSON values to a byte slice exactly as encoding/json
// writes them, without reflection and without an allocation of its own: the writing
// half of jsonscan. What a busy server encodes most (grid pages, the log's envelopes,
// change notices) is appended by hand with these; each caller's tests compare its bytes
// with encoding/json's, and this package's fuzz test compares every string.
package jsonappend

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// String appends s as encoding/json writes a string: quotes, backslashes and
// control characters escaped, <, > and & as \u003c, \u003e and \u0026, U+2028 and
// U+2029 escaped, and each byte of invalid UTF-8 as U+FFFD.
func String(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// The bytes written as they are, by a table: six comparisons a byte were
		// 13-15 % of a q= page's CPU, whose rows are mostly rendered (see appendGridRow).
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain marks the bytes String copies as they are: ASCII from the space
// on, but for the quote, the backslash, <, > and &.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// Time appends t as time.Time's MarshalJSON does (RFC 3339 with nanoseconds).
// A time in UTC of the years 0 to 9999 (every time a row shows) is written digit by
// digit: AppendFormat, which reads its layout each time, was a fifth of the CPU of a
// grid page whose rows were not kept rendered (five times a row).
func Time(b []byte, t time.Time) []byte {
	if t.Location() != time.UTC {
		return timeFormat(b, t)
	}
	sec := t.Unix()
	days, clock := sec/86400, sec%86400
	if clock < 0 {
		days, clock = days-1, clock+86400
	}
	year, month, day := civilDate(days)
	if year < 0 || year > 9999 {
		return timeFormat(b, t)
	}
	b = append(b, '"')
	b = digits(b, int(year), 4)
	b = append(b, '-')
	b = digits(b, month, 2)
	b = append(b, '-')
	b = digits(b, day, 2)
	b = append(b, 'T')
	b = digits(b, int(clock/3600), 2)
	b = append(b, ':')
	b = digits(b, int(clock/60%60), 2)
	b = append(b, ':')
	b = digits(b, int(clock%60), 2)
	b = Fraction(b, t.Nanosecond())
	return append(b, 'Z', '"')
}

// MarshaledTime appends t as json.Marshal writes it, and fails where json.Marshal
// fails, with its error (a year outside 0–9999, a zone offset of a day or more): a time
// in UTC of those years, every clock reading a server stores, is Time's digit by digit;
// any other goes to t.MarshalJSON itself.
func MarshaledTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); t.Location() == time.UTC && y >= 0 && y <= 9999 {
		return Time(b, t), nil
	}
	text, err := t.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("json: error calling MarshalJSON for type time.Time: %w", err)
	}
	return append(b, text...), nil
}

// Fraction appends RFC3339Nano's fraction of a second of ns nanoseconds (0 ≤ ns
// < 1e9): up to nine digits after a point, without trailing zeros, nothing for 0.
func Fraction(b []byte, ns int) []byte {
	if ns == 0 {
		return b
	}
	width := 9
	for ns%10 == 0 {
		ns /= 10
		width--
	}
	b = append(b, '.')
	return digits(b, ns, width)
}

// timeFormat is Time by time.Time's own formatting.
func timeFormat(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// digits appends v (0 ≤ v < 10^width) in width digits, zeros in front, two at a
// time.
func digits(b []byte, v, width int) []byte {
	const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
		"8081828384858687888990919293949596979899"
	start := len(b)
	b = append(b, "000000000"[:width]...)
	i := len(b)
	for ; i-start >= 2 && v > 0; i -= 2 {
		p := v % 100 * 2
		b[i-2], b[i-1] = pairs[p], pairs[p+1]
		v /= 100
	}
	if v > 0 {
		b[i-1] = byte('0' + v)
	}
	return b
}

// civilDate is the proleptic Gregorian date of a day counted from 1970-01-01 (Howard
// Hinnant's days_from_civil, inverted).
func civilDate(days int64) (year int64, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// Int appends v as encoding/json writes an integer.
func Int(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// Uint appends v as encoding/json writes an unsigned integer.
func Uint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }

// Bool appends v as encoding/json writes a bool.
func Bool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }
