package domain_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

func TestParseRoleAndPriority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input    string
		want     domain.Role
		priority int
		err      domain.Code
	}{
		{"viewer", domain.RoleViewer, 10, ""},
		{"editor", domain.RoleEditor, 20, ""},
		{"admin", domain.RoleAdmin, 100, ""},
		{"owner", domain.RoleOwner, 200, ""},
		{"", "", 0, domain.CodeValidation},
		{"Owner", "", 0, domain.CodeValidation},
		{"ADMIN", "", 0, domain.CodeValidation},
		{" viewer", "", 0, domain.CodeValidation},
		{"superadmin", "", 0, domain.CodeValidation},
		{"member", "", 0, domain.CodeValidation},
	}
	for _, tt := range tests {
		t.Run("role "+tt.input, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseRole(tt.input)
			thenValid(t, err, tt.err, "role")
			if got != tt.want {
				t.Fatalf("ParseRole(%q) = %q, want %q", tt.input, got, tt.want)
			}
			if p := domain.Role(tt.input).Priority(); p != tt.priority {
				t.Fatalf("Role(%q).Priority() = %d, want %d", tt.input, p, tt.priority)
			}
		})
	}
}

func TestPrincipalPriority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		p        domain.Principal
		priority int
		member   bool
	}{
		{"viewer", domain.Principal{UserID: "u", Role: domain.RoleViewer}, 10, true},
		{"editor", domain.Principal{UserID: "u", Role: domain.RoleEditor}, 20, true},
		{"admin", domain.Principal{UserID: "u", Role: domain.RoleAdmin}, 100, true},
		{"owner", domain.Principal{UserID: "u", Role: domain.RoleOwner}, 200, true},
		{"non-member", domain.Principal{UserID: "u"}, 0, false},
		{"unknown role", domain.Principal{UserID: "u", Role: "root"}, 0, false},
		{"super-admin without membership", domain.Principal{UserID: "u", Superadmin: true}, 1000, true},
		{"super-admin who is a viewer", domain.Principal{UserID: "u", Role: domain.RoleViewer, Superadmin: true}, 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.Priority(); got != tt.priority {
				t.Fatalf("Priority() = %d, want %d", got, tt.priority)
			}
			if got := tt.p.IsMember(); got != tt.member {
				t.Fatalf("IsMember() = %v, want %v", got, tt.member)
			}
		})
	}
}

func TestParseEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input   string
		want    domain.Environment
		display string
		err     domain.Code
	}{
		{"development", domain.Development, "Development", ""},
		{"staging", domain.Staging, "Staging", ""},
		{"production", domain.Production, "Production", ""},
		{"", "", "", domain.CodeValidation},
		{"Production", "", "", domain.CodeValidation},
		{"prod", "", "", domain.CodeValidation},
		{"dev", "", "", domain.CodeValidation},
		{" staging", "", "", domain.CodeValidation},
		{"qa", "", "", domain.CodeValidation},
	}
	for _, tt := range tests {
		t.Run("env "+tt.input, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseEnvironment(tt.input)
			thenValid(t, err, tt.err, "env")
			if got != tt.want {
				t.Fatalf("ParseEnvironment(%q) = %q, want %q", tt.input, got, tt.want)
			}
			if tt.err == "" && got.DisplayName() != tt.display {
				t.Fatalf("DisplayName() = %q, want %q", got.DisplayName(), tt.display)
			}
		})
	}
}

func TestEnvironmentsAreInDisplayOrder(t *testing.T) {
	t.Parallel()
	want := []domain.Environment{domain.Development, domain.Staging, domain.Production}
	if got := domain.Environments(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Environments() = %v, want %v", got, want)
	}
	// Callers may append to or sort the list they get; the next caller must not see it.
	domain.Environments()[0] = "mutated"
	if got := domain.Environments(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Environments() after a caller changed its copy = %v", got)
	}
}

func TestParseRevealPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input string
		want  domain.RevealPolicy
		err   domain.Code
	}{
		{"allowed", domain.RevealAllowed, ""},
		{"disabled", domain.RevealDisabled, ""},
		{"", "", domain.CodeValidation},
		{"Allowed", "", domain.CodeValidation},
		{"enabled", "", domain.CodeValidation},
		{"allow", "", domain.CodeValidation},
		{"disabled ", "", domain.CodeValidation},
	}
	for _, tt := range tests {
		t.Run("policy "+tt.input, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseRevealPolicy(tt.input)
			thenValid(t, err, tt.err, "reveal_policy")
			if got != tt.want {
				t.Fatalf("ParseRevealPolicy(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	local64 := strings.Repeat("a", 64)
	tests := []struct {
		name  string
		input string
		want  string
		err   domain.Code
	}{
		{"already normal", "alice@example.com", "alice@example.com", ""},
		{"lower-cased", "Alice@Example.COM", "alice@example.com", ""},
		{"trimmed", "  bob@example.com\n", "bob@example.com", ""},
		{"plus and dots", "First.Last+tag@Sub.Example.org", "first.last+tag@sub.example.org", ""},
		{"254 characters", local64 + "@" + strings.Repeat("b", 185) + ".com", local64 + "@" + strings.Repeat("b", 185) + ".com", ""},
		{"255 characters", local64 + "@" + strings.Repeat("b", 186) + ".com", "", domain.CodeValidation},
		{"empty", "", "", domain.CodeValidation},
		{"only spaces", "   ", "", domain.CodeValidation},
		{"no at sign", "alice.example.com", "", domain.CodeValidation},
		{"two at signs", "alice@@example.com", "", domain.CodeValidation},
		{"no local part", "@example.com", "", domain.CodeValidation},
		{"no domain", "alice@", "", domain.CodeValidation},
		{"display name form", "Alice <alice@example.com>", "", domain.CodeValidation},
		{"angle brackets", "<alice@example.com>", "", domain.CodeValidation},
		{"inner space", "ali ce@example.com", "", domain.CodeValidation},
		{"two addresses", "a@example.com, b@example.com", "", domain.CodeValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.NormalizeEmail(tt.input)
			thenValid(t, err, tt.err, "email")
			if got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		err   domain.Code
	}{
		{"empty", "", domain.CodeValidation},
		{"9 characters", "k7#Qm2!zW", domain.CodeValidation},
		{"10 characters", "k7#Qm2!zWp", ""},
		{"passphrase", "correct horse battery staple", ""},
		{"9 emoji (36 bytes) are 9 characters", "🔑🔒🔓🔐🐉🐍🦊🐙🦉", domain.CodeValidation},
		{"10 emoji", "🔑🔒🔓🔐🐉🐍🦊🐙🦉🐝", ""},
		{"9 accented letters (18 bytes)", "éàèùâêîôû", domain.CodeValidation},
		{"10 accented letters", "éàèùâêîôûç", ""},
		{"spaces count", "a b c d e ", ""},
		{"1024 bytes", strings.Repeat("abcd", 256), ""},
		{"1025 bytes", strings.Repeat("abcd", 256) + "e", domain.CodeValidation},
		// Blank, invisible and control characters.
		{"10 spaces", strings.Repeat(" ", 10), domain.CodeValidation},
		{"tabs and spaces", " \t \t \t \t \t", domain.CodeValidation},
		{"no-break spaces", strings.Repeat("\u00a0", 12), domain.CodeValidation},
		{"zero-width spaces", strings.Repeat("\u200b", 12), domain.CodeValidation},
		{"NUL", "k7#Qm2!zWp\x00", domain.CodeValidation},
		{"newline", "k7#Qm2\n!zWp", domain.CodeValidation},
		{"DEL", "k7#Qm2\x7f!zWp", domain.CodeValidation},
		{"invalid UTF-8", strings.Repeat("\xff", 12), domain.CodeValidation},
		// Repetition, sequences and the common list, case-insensitively.
		{"one character repeated", strings.Repeat("a", 12), domain.CodeValidation},
		{"one emoji repeated", strings.Repeat("🔑", 10), domain.CodeValidation},
		{"ascending run", "abcdefghijkl", domain.CodeValidation},
		{"descending run", "9876543210", domain.CodeValidation},
		{"common", "1234567890", domain.CodeValidation},
		{"common keyboard row", "qwertyuiop", domain.CodeValidation},
		{"common in capitals", "PASSWORD123", domain.CodeValidation},
		{"common with spaces around", " Password1234 ", domain.CodeValidation},
		{"common word", "basketball", domain.CodeValidation},
		{"common plus a character", "basketball!", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidatePassword(tt.input)
			thenValid(t, err, tt.err, "password")
			if err != nil && tt.input != "" && strings.Contains(err.Error(), tt.input) {
				t.Fatalf("the error message contains the password")
			}
		})
	}
}

func TestValidatePersonName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  string
		err   domain.Code
	}{
		{"plain", "Olivia Owner", "Olivia Owner", ""},
		{"trimmed", "  Zoë  ", "Zoë", ""},
		{"200 characters", strings.Repeat("é", 200), strings.Repeat("é", 200), ""},
		{"201 characters", strings.Repeat("é", 201), "", domain.CodeValidation},
		{"empty", "", "", domain.CodeValidation},
		{"blank", " \t ", "", domain.CodeValidation},
		{"invalid UTF-8", "Zo\xeb", "", domain.CodeValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ValidatePersonName(tt.input)
			thenValid(t, err, tt.err, "name")
			if got != tt.want {
				t.Fatalf("ValidatePersonName(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestParseOrganizationName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  string
		err   domain.Code
	}{
		{"plain", "Acme", "Acme", ""},
		{"trimmed", "  Acme Corp\n", "Acme Corp", ""},
		{"100 characters", strings.Repeat("ö", 100), strings.Repeat("ö", 100), ""},
		{"101 characters", strings.Repeat("ö", 101), "", domain.CodeValidation},
		{"empty", "", "", domain.CodeValidation},
		{"blank", "   ", "", domain.CodeValidation},
		{"invalid UTF-8", "Acme\xff", "", domain.CodeValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseOrganizationName(tt.input)
			thenValid(t, err, tt.err, "name")
			if got != tt.want {
				t.Fatalf("ParseOrganizationName(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}
