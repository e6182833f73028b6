package domain

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCommonPasswordListShape keeps the embedded list searchable the way
// isCommonPassword searches it: one lower-case entry per line, each long enough to
// pass the length rule (a shorter one is dead weight), none starting with "#".
func TestCommonPasswordListShape(t *testing.T) {
	t.Parallel()
	if !strings.HasPrefix(commonPasswords, "#") || !strings.HasSuffix(commonPasswords, "\n") {
		t.Fatal("the list must start with its comment header and end with a newline")
	}
	entries := 0
	for line := range strings.Lines(commonPasswords) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, "#") {
			if entries > 0 {
				t.Fatalf("comment line %q after the entries", line)
			}
			continue
		}
		entries++
		if line != strings.ToLower(line) || strings.TrimSpace(line) != line || utf8.RuneCountInString(line) < MinPasswordLength {
			t.Fatalf("entry %q: want lower case, no surrounding spaces, at least %d characters", line, MinPasswordLength)
		}
		if !isCommonPassword(strings.ToUpper(line)) {
			t.Fatalf("entry %q is not found", line)
		}
	}
	if entries < 1000 {
		t.Fatalf("%d entries", entries)
	}
}
