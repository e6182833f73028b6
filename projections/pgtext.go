package projections

import (
	"reflect"
	"strings"
	"unicode/utf8"
)

// The projector must be total over everything the log holds, and the log is never
// rewritten: events recorded before the domain refused NUL and broken UTF-8 in names
// (or written by anything that bypassed the domain) still have to fit in Postgres,
// whose text type holds neither. Every argument the projector sends goes through
// pgArgs, the one choke point, which replaces each NUL and each run of bytes that is
// not UTF-8 with U+FFFD. Nothing else changes: other control characters are text
// Postgres holds, and rows written before this existed keep their exact content (the
// audit chain hashes it).

// pgText returns s as Postgres text can hold it.
func pgText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// pgArgs returns args with every string (plain, named string types, pointers to them
// and slices of them) passed through pgText. Other values are returned as they are.
func pgArgs(args []any) []any {
	var out []any // a copy, made only when an argument changes
	for i, a := range args {
		c, changed := pgArg(a)
		if !changed {
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = c
	}
	if out == nil {
		return args
	}
	return out
}

func pgArg(a any) (any, bool) {
	switch v := a.(type) {
	case nil:
		return nil, false
	case string:
		// Boxed (an allocation) only when it changed: most text goes through as is.
		c := pgText(v)
		if c == v {
			return a, false
		}
		return c, true
	case *string:
		if c := pgTextPtr(v); c != v {
			return c, true
		}
		return a, false
	case []string:
		var out []string
		for i, s := range v {
			if c := pgText(s); c != s {
				if out == nil {
					out = append([]string(nil), v...)
				}
				out[i] = c
			}
		}
		if out == nil {
			return a, false
		}
		return out, true
	}
	// Named string types (domain.Environment, domain.Role…) are text to Postgres too.
	rv := reflect.ValueOf(a)
	switch {
	case rv.Kind() == reflect.String:
		c := pgText(rv.String())
		return c, c != rv.String()
	case rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.String:
		c := pgText(rv.Elem().String())
		return &c, c != rv.Elem().String()
	}
	return a, false
}

// pgTextPtr is pgText for a nullable text: p itself unless pgText changes its text.
func pgTextPtr(p *string) *string {
	if p == nil {
		return nil
	}
	if c := pgText(*p); c != *p {
		return stringPtr(c)
	}
	return p
}

// stringPtr is a pointer to a copy of s, made only when called (a pointer taken in
// pgTextPtr moved its variable to the heap on every call).
func stringPtr(s string) *string { return &s }
