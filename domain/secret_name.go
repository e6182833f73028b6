package domain

import (
	"strings"
	"unicode/utf8"
)

// Limits of secret fields, from the API contract.
const (
	MaxSecretNameLength  = 128
	MaxDescriptionLength = 1000
	MaxValueBytes        = 64 * 1024
)

// SecretName is a normalized secret name: trimmed, upper-cased and matching
// ^[A-Z_][A-Z0-9_]{0,127}$.
type SecretName string

// ParseSecretName normalizes a name as typed by a user (`stripe_secret_key` becomes
// `STRIPE_SECRET_KEY`) and validates it.
func ParseSecretName(s string) (SecretName, error) {
	t := strings.TrimSpace(s)
	// The text rule first, so that a control character or a broken byte is named as
	// such rather than as a bad letter (ToUpper would turn broken bytes into U+FFFD).
	if err := ValidateText("name", t, SingleLine); err != nil {
		return "", err
	}
	n := strings.ToUpper(t)
	if n == "" {
		return "", Invalid("name", "is required")
	}
	if len(n) > MaxSecretNameLength {
		return "", Invalid("name", "must be at most 128 characters")
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return "", Invalid("name", "must start with a letter or underscore and contain only letters, digits and underscores")
		}
	}
	return SecretName(n), nil
}

// ValidateDescription checks a secret description: the text rule (tab and newline
// allowed) and its length.
func ValidateDescription(s string) error {
	if err := ValidateText("description", s, MultiLine); err != nil {
		return err
	}
	if utf8.RuneCountInString(s) > MaxDescriptionLength {
		return Invalid("description", "must be at most 1000 characters")
	}
	return nil
}

// ValidateValue checks a secret value: 1 byte to 64 KiB of UTF-8. An oversized value is
// a too_large error, not a validation error, as the API contract says.
func ValidateValue(env Environment, v Plaintext) error {
	field := "values." + string(env)
	switch {
	case v.Len() == 0:
		return Invalid(field, "must not be empty")
	case v.Len() > MaxValueBytes:
		return &Error{Code: CodeTooLarge, Message: "A secret value may be at most 64 KiB.",
			Fields: []FieldError{{Field: field, Message: "must be at most 64 KiB"}}}
	case !utf8.ValidString(v.Reveal()):
		return Invalid(field, "must be valid UTF-8")
	}
	return nil
}
