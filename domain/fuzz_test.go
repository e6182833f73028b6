package domain_test

import (
	"regexp"
	"testing"
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
	for _, s := range []string{"", "short", "sk_live_51HxProductionKeyAbcdefghijklmnRgA1", "ab€d" + "yyyyyyyyyyyy" + "zé", "\xff\xfe"} {
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
