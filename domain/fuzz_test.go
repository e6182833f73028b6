package domain_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/keyledger/keyledger/domain"
)

var namePattern = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,127}$`)

// FuzzParseSecretName: whatever comes in, a name that is accepted matches the API's
// pattern and parses to itself again.
func FuzzParseSecretName(f *testing.F) {
	for _, s := range []string{"stripe_secret_key", " A ", "1ABC", "ıd", "ſecret", "", "_", "A\x00B", "ÄBC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := domain.ParseSecretName(s)
		if err != nil {
			if !domain.IsCode(err, domain.CodeValidation) {
				t.Fatalf("ParseSecretName(%q): error %v has no validation code", s, err)
			}
			return
		}
		if !namePattern.MatchString(string(n)) {
			t.Fatalf("ParseSecretName(%q) = %q, which breaks the pattern", s, n)
		}
		if again, err := domain.ParseSecretName(string(n)); err != nil || again != n {
			t.Fatalf("ParseSecretName(%q) = %q, but that parses to %q, %v", s, n, again, err)
		}
	})
}

// FuzzMask: a mask never shows more of a value than the API allows.
func FuzzMask(f *testing.F) {
	for _, s := range []string{"", "short", "sk_live_51HxProductionKeyAbcdefghijklmnRgA1", "ab€d" + "yyyyyyyyyyyy" + "zé", "\xff\xfe",
		"\x00" + strings.Repeat("x", 34) + "\x00", "\x1b[31m" + strings.Repeat("y", 12) + "\r\n", "\u2028" + strings.Repeat("z", 20) + "\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := domain.Mask(domain.NewPlaintext(s))
		n := len([]rune(s))
		shown := utf8.RuneCountInString(m) - 3
		switch {
		case n >= 36 && shown != 12, n >= 18 && n < 36 && shown != 6, n < 18 && m != "***":
			t.Fatalf("Mask of %d code points shows %d (%q)", n, shown, m)
		}
		// A value may hold anything; what its mask shows is printable text.
		if err := domain.ValidateText("mask", m, domain.SingleLine); err != nil {
			t.Fatalf("Mask(%q) = %q: %v", s, m, err)
		}
	})
}

// FuzzValidateText: text the rule accepts is UTF-8 without a control character (tab
// and newline only in a description); text it refuses is refused with a validation
// error on the field; and ReplaceControls always makes text the rule accepts, one code
// point for one.
func FuzzValidateText(f *testing.F) {
	for _, s := range []string{"", "Alice", "evil\x00name", "a\tb\nc", "\xff", "\u2028", "\u0085", "Zoë 🔑", "\r\n", "\x7f"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, multiLine bool) {
		kind := domain.SingleLine
		if multiLine {
			kind = domain.MultiLine
		}
		err := domain.ValidateText("name", s, kind)
		if err != nil {
			if !domain.IsCode(err, domain.CodeValidation) {
				t.Fatalf("ValidateText(%q): error %v has no validation code", s, err)
			}
		} else {
			if !utf8.ValidString(s) {
				t.Fatalf("ValidateText accepted %q, which is not UTF-8", s)
			}
			for _, r := range s {
				if unicode.IsControl(r) && !(multiLine && (r == '\t' || r == '\n')) || r == '\u2028' || r == '\u2029' {
					t.Fatalf("ValidateText accepted %q, which holds %U", s, r)
				}
			}
		}
		clean := domain.ReplaceControls(s)
		if err := domain.ValidateText("name", clean, domain.SingleLine); err != nil {
			t.Fatalf("ReplaceControls(%q) = %q, which the rule refuses: %v", s, clean, err)
		}
		if got, want := utf8.RuneCountInString(clean), len([]rune(s)); got != want {
			t.Fatalf("ReplaceControls(%q) has %d code points, want %d", s, got, want)
		}
	})
}

// FuzzDecodeEvent: no stored payload, however broken, makes decoding panic.
func FuzzDecodeEvent(f *testing.F) {
	f.Add("SecretCreated", 1, []byte(`{"name":"A","values":{"production":{"version":1,"mask":"***","sealed":"x"}}}`))
	f.Add("OrganizationCreated", 1, []byte(`{"name":"Acme","owner_id":"u"}`))
	f.Add("MemberAdded", 1, []byte(`{"user_id":`))
	f.Add("Nope", 7, []byte(`[]`))
	f.Fuzz(func(t *testing.T, typ string, schema int, data []byte) {
		ev, err := domain.DecodeEvent(typ, schema, data)
		if err == nil && ev.EventType() != typ {
			t.Fatalf("DecodeEvent(%q) gave a %s", typ, ev.EventType())
		}
	})
}
