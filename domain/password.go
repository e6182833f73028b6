package domain

import (
	_ "embed" // the list of common passwords is compiled into the binary
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a password. A password is counted in Unicode code points, so that ten
// accented letters or emoji are ten characters; the byte bound keeps hashing cheap.
const (
	MinPasswordLength = 10
	MaxPasswordBytes  = 1024
)

// commonPasswords is the blocklist, one lower-cased password per line after a comment
// header. It is read-only data, not state: go:embed can only fill a package variable,
// and a plain string needs no parsing (and no map built at start) to be searched.
//
//go:embed common_passwords.txt
var commonPasswords string

// ValidatePassword checks a new password, after NIST SP 800-63B (5.1.1.2): length
// rather than composition rules (no "one digit and one symbol"), any printable Unicode
// including spaces, and a refusal of passwords that attackers try first. Every way of
// creating a user (sign-up, POST /admin/users, the bootstrap admin, keyledger admin
// create-user) goes through commands.RegisterUser, which calls this. Messages never
// repeat the password.
func ValidatePassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return Invalid("password", "must be valid UTF-8")
	case len(pw) > MaxPasswordBytes:
		return Invalid("password", "must be at most 1024 bytes")
	case strings.ContainsFunc(pw, unicode.IsControl):
		return Invalid("password", "must not contain control characters (such as NUL, tab or newline)")
	case utf8.RuneCountInString(pw) < MinPasswordLength:
		return Invalid("password", "must be at least 10 characters")
	case strings.TrimFunc(pw, invisible) == "":
		return Invalid("password", "must not be only spaces or invisible characters")
	case oneRepeatedCharacter(pw):
		return Invalid("password", "must not be one character repeated")
	case consecutiveCharacters(strings.ToLower(pw)):
		return Invalid("password", "must not be a run of consecutive characters such as 0123456789 or abcdefghij")
	case isCommonPassword(pw):
		return Invalid("password", "is one of the most commonly used passwords; choose another")
	}
	return nil
}

// invisible reports whether a rune shows nothing: white space, or a format character
// such as a zero-width space. A password made only of these looks empty on screen.
func invisible(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) }

func oneRepeatedCharacter(pw string) bool {
	first, _ := utf8.DecodeRuneInString(pw)
	return strings.TrimLeft(pw, string(first)) == ""
}

// consecutiveCharacters reports whether every character is the one after (or before)
// the previous one, such as "abcdefghijk" or "9876543210".
func consecutiveCharacters(pw string) bool {
	runes := []rune(pw)
	if len(runes) < 2 {
		return false
	}
	step := runes[1] - runes[0]
	if step != 1 && step != -1 {
		return false
	}
	for i := 2; i < len(runes); i++ {
		if runes[i]-runes[i-1] != step {
			return false
		}
	}
	return true
}

// isCommonPassword looks the password up in the blocklist, ignoring case and the
// spaces around it ("Password123 " is still "password123"). Every entry sits between
// two newlines; no entry starts with "#", so a comment line never matches.
func isCommonPassword(pw string) bool {
	p := strings.ToLower(strings.TrimSpace(pw))
	if p == "" || strings.HasPrefix(p, "#") {
		return false
	}
	return strings.Contains(commonPasswords, "\n"+p+"\n")
}
