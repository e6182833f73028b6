package domain_test

import (
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

func TestParseSecretName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  domain.SecretName
		err   domain.Code
	}{
		{"API example is upper-cased", "stripe_secret_key", "STRIPE_SECRET_KEY", ""},
		{"already normalized", "STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY", ""},
		{"mixed case", "Stripe_Secret_Key", "STRIPE_SECRET_KEY", ""},
		{"spaces trimmed", "  stripe_secret_key  ", "STRIPE_SECRET_KEY", ""},
		{"tabs and newlines trimmed", "\t\nDATABASE_URL\r\n", "DATABASE_URL", ""},
		{"single letter", "a", "A", ""},
		{"single underscore", "_", "_", ""},
		{"leading underscore", "_private", "_PRIVATE", ""},
		{"digits after the first character", "s3_bucket_2", "S3_BUCKET_2", ""},
		{"underscore then digit", "_1", "_1", ""},
		{"128 characters", strings.Repeat("a", 128), domain.SecretName(strings.Repeat("A", 128)), ""},
		{"128 characters once trimmed", "  " + strings.Repeat("K", 128) + "  ", domain.SecretName(strings.Repeat("K", 128)), ""},
		{"129 characters", strings.Repeat("A", 129), "", domain.CodeValidation},
		{"empty", "", "", domain.CodeValidation},
		{"only spaces", "   ", "", domain.CodeValidation},
		{"leading digit", "1PASSWORD", "", domain.CodeValidation},
		{"a digit alone", "9", "", domain.CodeValidation},
		{"leading digit after trimming", "  2fa_secret", "", domain.CodeValidation},
		{"hyphen", "API-KEY", "", domain.CodeValidation},
		{"inner space", "API KEY", "", domain.CodeValidation},
		{"dot", "api.key", "", domain.CodeValidation},
		{"dollar", "$HOME", "", domain.CodeValidation},
		{"NUL byte", "KEY\x00", "", domain.CodeValidation},
		{"accented letter", "café_key", "", domain.CodeValidation},
		{"German sharp s", "straße", "", domain.CodeValidation},
		{"Cyrillic", "ключ", "", domain.CodeValidation},
		{"Greek capital", "ΑΠΙ_KEY", "", domain.CodeValidation},
		{"emoji", "KEY_🔑", "", domain.CodeValidation},
		{"full-width letters", "ＫＥＹ", "", domain.CodeValidation},
		{"Kelvin sign", "\u212aEY", "", domain.CodeValidation},
		{"Arabic-Indic digit", "KEY\u0661", "", domain.CodeValidation},
		{"non-breaking space inside", "API\u00a0KEY", "", domain.CodeValidation},
		{"invalid UTF-8", "KEY\xff", "", domain.CodeValidation},
		{"129 characters of which one is Unicode", strings.Repeat("A", 128) + "é", "", domain.CodeValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseSecretName(tt.input)
			thenValid(t, err, tt.err, "name")
			if got != tt.want {
				t.Fatalf("ParseSecretName(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestValidateDescription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		err   domain.Code
	}{
		{"empty", "", ""},
		{"short", "Stripe live key, rotated quarterly.", ""},
		{"1000 ASCII characters", strings.Repeat("a", 1000), ""},
		{"1001 ASCII characters", strings.Repeat("a", 1001), domain.CodeValidation},
		{"1000 two-byte characters (2000 bytes)", strings.Repeat("é", 1000), ""},
		{"1001 two-byte characters", strings.Repeat("é", 1001), domain.CodeValidation},
		{"1000 four-byte characters (4000 bytes)", strings.Repeat("🔑", 1000), ""},
		{"1001 four-byte characters", strings.Repeat("🔑", 1001), domain.CodeValidation},
		{"999 ASCII and one emoji", strings.Repeat("a", 999) + "🔑", ""},
		{"1000 ASCII and one emoji", strings.Repeat("a", 1000) + "🔑", domain.CodeValidation},
		{"newlines count as characters", strings.Repeat("\n", 1001), domain.CodeValidation},
		{"invalid UTF-8", "caf\xe9", domain.CodeValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			thenValid(t, domain.ValidateDescription(tt.input), tt.err, "description")
		})
	}
}

func TestValidateValue(t *testing.T) {
	t.Parallel()
	const kib64 = 64 * 1024
	tests := []struct {
		name  string
		env   domain.Environment
		value string
		err   domain.Code
		field string
	}{
		{"one byte", domain.Production, "x", "", ""},
		{"typical key", domain.Production, "sk_live_51HxYzAbCdEfGhIjKlMnOpRgA1", "", ""},
		{"multi-line PEM-like value", domain.Staging, "-----BEGIN KEY-----\nabc\n-----END KEY-----\n", "", ""},
		{"a single space", domain.Development, " ", "", ""},
		{"empty", domain.Production, "", domain.CodeValidation, "values.production"},
		{"empty in staging names staging", domain.Staging, "", domain.CodeValidation, "values.staging"},
		{"exactly 64 KiB", domain.Production, strings.Repeat("a", kib64), "", ""},
		{"64 KiB + 1 byte", domain.Production, strings.Repeat("a", kib64+1), domain.CodeTooLarge, "values.production"},
		{"64 KiB of two-byte characters", domain.Development, strings.Repeat("é", kib64/2), "", ""},
		{"64 KiB + 1 byte of mixed characters", domain.Development, strings.Repeat("é", kib64/2) + "a", domain.CodeTooLarge, "values.development"},
		{"1 MiB", domain.Production, strings.Repeat("a", 1<<20), domain.CodeTooLarge, "values.production"},
		{"invalid UTF-8 byte", domain.Production, "secret\xff", domain.CodeValidation, "values.production"},
		{"truncated multi-byte sequence", domain.Production, "euro\xe2\x82", domain.CodeValidation, "values.production"},
		{"lone surrogate encoding", domain.Production, "\xed\xa0\x80", domain.CodeValidation, "values.production"},
		{"emoji", domain.Production, "🔑🔒", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidateValue(tt.env, domain.NewPlaintext(tt.value))
			thenValid(t, err, tt.err, tt.field)
			if err != nil && tt.value != "" && strings.Contains(err.Error(), tt.value) {
				t.Fatalf("the error message contains the value")
			}
		})
	}
}
