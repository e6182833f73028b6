package commands

import "testing"

// Derived ids never change: users' ids derive from their emails and secrets' from
// their names, in the log since the first version; these are what the first
// derivation (MessageID's string, then uuid.NewSHA1) gave.
func TestDerivedIDsStayTheSame(t *testing.T) {
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{"user", "ada@example.com"}, "cf98f779-b74b-5106-a8dc-ba80ca22063b"},
		{[]string{"secret-name", "org-1.0123456789abcdef", "0"}, "986d8e12-6850-5c5a-97ef-61c5add230d8"},
		{[]string{"x", "quote\"and|bar\x00é\n", ""}, "1986fed1-291f-51d6-ab84-9c18de8a9686"},
	} {
		if got := derivedID(tc.parts...); got != tc.want {
			t.Errorf("derivedID(%q) = %s, want %s", tc.parts, got, tc.want)
		}
	}
}
