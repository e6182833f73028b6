package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// TextKind says which layout characters a named field may hold.
type TextKind int

// The kinds of text a person names.
const (
	// SingleLine is a name: no control character at all.
	SingleLine TextKind = iota
	// MultiLine is a description: tab and newline are allowed, nothing else.
	MultiLine
)

// ValidateText is the one text rule for every field a person names (user, org, secret
// and token names, descriptions): valid UTF-8 and no control character. A control
// character is Unicode category Cc (C0, DEL, C1, NUL included), a line or paragraph
// separator (U+2028, U+2029), which break lines like a newline does, or a
// bidirectional control (see isBidiControl), which reorders what is shown. Names that reach
// logs, CSV exports, terminals and Postgres must hold none of them: Postgres text
// cannot hold NUL at all, and the rest let a name forge lines or hide itself.
// The error is a validation error on field.
func ValidateText(field, s string, kind TextKind) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "must be valid UTF-8")
	}
	for _, r := range s {
		if kind == MultiLine && (r == '\t' || r == '\n') {
			continue
		}
		if IsControl(r) {
			return Invalid(field, "must not contain control characters")
		}
	}
	return nil
}

// IsControl reports whether r is a character that no name shows: Unicode category
// Cc, U+2028 or U+2029, or a bidirectional control (isBidiControl).
func IsControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || isBidiControl(r)
}

// isBidiControl reports whether r is one of Unicode's bidirectional controls (UAX #9:
// the marks, embeddings, overrides and isolates, U+061C, U+200E-F, U+202A-E, U+2066-9).
// Shown, they reorder the text around them: an organization, token or user named with
// U+202E reads backwards in the grid, the audit trail and a terminal, so one name can
// pass for another ("Trojan Source", CVE-2021-42574). Right-to-left text needs none of
// them, and other format characters (the joiner of an emoji sequence) stay allowed.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061C', r == '\u200E', r == '\u200F':
		return true
	case r >= '\u202A' && r <= '\u202E':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// ReplaceControls returns s with each control character (see IsControl) and each
// byte that is not UTF-8 replaced by U+FFFD, one for one, so that the result has as
// many code points as s and prints safely anywhere. Masks use it: a value may hold
// anything, but what a mask shows of it is printable.
func ReplaceControls(s string) string {
	clean := utf8.ValidString(s)
	if clean {
		for _, r := range s {
			if IsControl(r) {
				clean = false
				break
			}
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		// Ranging over a string yields U+FFFD for each byte that is not UTF-8.
		if IsControl(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}
