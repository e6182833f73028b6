package domain_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyledger/keyledger/domain"
)

// hostile is text that no named field may hold, whatever its kind.
var hostile = map[string]string{
	"NUL":                              "evil\x00name",
	"NUL at the end":                   "name\x00",
	"bell":                             "ding\x07",
	"escape (terminal)":                "red\x1b[31m",
	"carriage return":                  "forged\rline",
	"vertical tab":                     "a\vb",
	"form feed":                        "a\fb",
	"DEL":                              "a\x7fb",
	"C1 control (U+0085)":              "a\u0085b",
	"C1 control (U+009B)":              "a\u009bb",
	"line separator":                   "a\u2028b",
	"paragraph separator":              "a\u2029b",
	"right-to-left override (U+202E)":  "invoice\u202Efdp.exe",
	"left-to-right embedding (U+202A)": "a\u202Ab",
	"first strong isolate (U+2068)":    "a\u2068b\u2069",
	"right-to-left mark (U+200F)":      "a\u200Fb",
	"Arabic letter mark (U+061C)":      "a\u061Cb",
	"invalid UTF-8":                    "a\xffb",
	"lone surrogate half":              "a\xed\xa0\x80b",
	"truncated sequence":               "caf\xc3",
}

func TestValidateText(t *testing.T) {
	t.Parallel()
	type check struct {
		s    string
		kind domain.TextKind
		ok   bool
	}
	tests := map[string]check{
		"plain name":                  {"Alice", domain.SingleLine, true},
		"unicode name":                {"Zoë 秘密 🔑 שלום", domain.SingleLine, true},
		"U+FFFD itself is text":       {"a\uFFFDb", domain.SingleLine, true},
		"format character (ZWJ)":      {"👩\u200d💻", domain.SingleLine, true},
		"empty":                       {"", domain.SingleLine, true},
		"tab in a name":               {"a\tb", domain.SingleLine, false},
		"newline in a name":           {"a\nb", domain.SingleLine, false},
		"tab in a description":        {"a\tb", domain.MultiLine, true},
		"newline in a description":    {"line one\nline two\n", domain.MultiLine, true},
		"CR LF in a description":      {"a\r\nb", domain.MultiLine, false},
		"NUL in a description":        {"a\x00b", domain.MultiLine, false},
		"line separator, description": {"a\u2028b", domain.MultiLine, false},
	}
	for name, s := range hostile {
		tests[name+", name"] = check{s, domain.SingleLine, false}
		tests[name+", description"] = check{s, domain.MultiLine, false}
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidateText("field", tt.s, tt.kind)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidateText(%q) = %v, want nil", tt.s, err)
				}
				return
			}
			thenValid(t, err, domain.CodeValidation, "field")
		})
	}
}

// Every decision that takes a named text refuses hostile text with a validation error
// on that field, and so no such text reaches an event.
func TestNamedTextRefusedByEveryDecision(t *testing.T) {
	t.Parallel()
	now := at(0)
	org := given(t, freshOrg(), staffed()...)
	secret := given(t, freshSecret(), created())
	decisions := map[string]struct {
		field  string
		decide func(s string) error
	}{
		"user name": {"name", func(s string) error {
			_, err := domain.NewUser("u").Register("a@example.com", s, "hash", false)
			return err
		}},
		"organization name at creation": {"name", func(s string) error {
			_, err := domain.CreateOrganization(s, "owner", "")
			return err
		}},
		"organization rename": {"name", func(s string) error {
			_, err := org.Update(founder, &s, nil)
			return err
		}},
		"service token name": {"name", func(s string) error {
			_, err := domain.CreateServiceToken(orgAdmin, s, []domain.Environment{domain.Production}, nil, "h", now)
			return err
		}},
		"personal token name": {"name", func(s string) error {
			_, err := domain.CreatePersonalToken("u", s, nil, "h", now)
			return err
		}},
		"secret name": {"name", func(s string) error {
			_, err := domain.ParseSecretName(s)
			return err
		}},
		"secret description at creation": {"description", func(s string) error {
			_, err := domain.CreateSecret(context.Background(), creator, orgID, secretID, domain.NewSecretInput{Name: "A", Description: s, OwnerID: creator.UserID}, sealer)
			return err
		}},
		"secret description change": {"description", func(s string) error {
			_, err := secret.Update(context.Background(), creator, domain.SecretChange{Description: &s}, sealer)
			return err
		}},
	}
	for name, d := range decisions {
		for what, s := range hostile {
			t.Run(name+"/"+what, func(t *testing.T) {
				t.Parallel()
				thenValid(t, d.decide("Fine "+s), domain.CodeValidation, d.field)
			})
		}
	}
}

// The decisions still take what they took before: names are trimmed, and a description
// keeps its tabs and newlines.
func TestNamedTextAcceptsOrdinaryText(t *testing.T) {
	t.Parallel()
	if ev, err := domain.NewUser("u").Register("a@example.com", " Zoë O'Brien\t", "hash", false); err != nil || ev.(domain.UserRegistered).Name != "Zoë O'Brien" {
		t.Fatalf("Register: %v, %v", ev, err)
	}
	desc := "Rotated monthly.\n\tOwner: payments team"
	ev, err := domain.CreateSecret(context.Background(), creator, orgID, secretID, domain.NewSecretInput{Name: "A", Description: desc, OwnerID: creator.UserID}, sealer)
	if err != nil || ev.Description != desc {
		t.Fatalf("CreateSecret: %v, %v", ev, err)
	}
	if _, err := domain.CreatePersonalToken("u", "laptop (work) — 2026", nil, "h", at(0).Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Right-to-left text needs no bidirectional control, and an emoji sequence's
	// joiner (U+200D, a format character like them) is no control either.
	for _, name := range []string{"שלום עולם", "مرحبا بالعالم", "team 👩\u200d💻"} {
		if _, err := domain.ParseOrganizationName(name); err != nil {
			t.Errorf("organization name %q: %v", name, err)
		}
	}
}

// Values are opaque: NUL and any control character are a value like any other.
func TestValueMayHoldControlCharacters(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"\x00", "a\x00b", "line\r\n\x1b[0m", "\u2028", strings.Repeat("\x00", 40)} {
		if err := domain.ValidateValue(domain.Production, domain.NewPlaintext(v)); err != nil {
			t.Errorf("ValidateValue(%q) = %v, want nil", v, err)
		}
	}
}

func TestMaskNeverShowsAControlCharacter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value, want string
	}{
		{"NUL at both ends (36)", "\x00sk_live" + strings.Repeat("x", 24) + "RgA\x00", "\uFFFDsk_live***RgA\uFFFD"},
		{"escape and newline (18)", "\x1b[31" + strings.Repeat("x", 12) + "\r\n", "\uFFFD[31***\uFFFD\uFFFD"},
		{"line separators (18)", "\u2028abc" + strings.Repeat("x", 12) + "z\u2029", "\uFFFDabc***z\uFFFD"},
		{"C1 and DEL (36)", "\u0085\u009b\x7fabcde" + strings.Repeat("x", 24) + "abc\x7f", "\uFFFD\uFFFD\uFFFDabcde***abc\uFFFD"},
		{"tab (18)", "\tabc" + strings.Repeat("x", 12) + "y\t", "\uFFFDabc***y\uFFFD"},
		{"controls hidden in the middle only", "abcd" + strings.Repeat("\x00", 12) + "yz", "abcd***yz"},
		{"short value of NULs", "\x00\x00\x00", "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := domain.Mask(domain.NewPlaintext(tt.value))
			if got != tt.want {
				t.Fatalf("Mask(%q) = %q, want %q", tt.value, got, tt.want)
			}
			if n, m := utf8.RuneCountInString(tt.value), utf8.RuneCountInString(got); (n >= 36 && m != 15) || (n >= 18 && n < 36 && m != 9) {
				t.Fatalf("mask %q of %d code points has %d", got, n, m)
			}
		})
	}
}

func TestReplaceControls(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":              "",
		"plain":         "plain",
		"a\x00b":        "a\uFFFDb",
		"a\xffb":        "a\uFFFDb",
		"\xff\xfe":      "\uFFFD\uFFFD",
		"tab\tnl\n":     "tab\uFFFDnl\uFFFD",
		"🔑\u2028\u2029": "🔑\uFFFD\uFFFD",
	} {
		if got := domain.ReplaceControls(in); got != want {
			t.Errorf("ReplaceControls(%q) = %q, want %q", in, got, want)
		}
	}
}
