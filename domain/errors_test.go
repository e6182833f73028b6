package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

func TestErrorCodeSurvivesWrapping(t *testing.T) {
	t.Parallel()
	base := domain.Errorf(domain.CodeVersionConflict, "The secret was changed (version %d).", 3)
	tests := []struct {
		name string
		err  error
		want domain.Code
	}{
		{"domain error", base, domain.CodeVersionConflict},
		{"wrapped once", fmt.Errorf("update: %w", base), domain.CodeVersionConflict},
		{"wrapped twice", fmt.Errorf("handler: %w", fmt.Errorf("update: %w", base)), domain.CodeVersionConflict},
		{"joined", errors.Join(errors.New("other"), base), domain.CodeVersionConflict},
		{"validation", domain.Invalid("name", "is required"), domain.CodeValidation},
		{"plain error", errors.New("boom"), ""},
		{"nil", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.ErrorCode(tt.err); got != tt.want {
				t.Fatalf("ErrorCode = %q, want %q", got, tt.want)
			}
			if tt.want != "" && !domain.IsCode(tt.err, tt.want) {
				t.Fatalf("IsCode(%v, %q) = false", tt.err, tt.want)
			}
			if domain.IsCode(tt.err, domain.CodeEmailTaken) {
				t.Fatalf("IsCode matched a code the error does not carry")
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	err := domain.Invalid("name", "is required")
	if got, want := err.Error(), "validation_failed: name: is required"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if len(err.Fields) != 1 || err.Fields[0] != (domain.FieldError{Field: "name", Message: "is required"}) {
		t.Fatalf("Fields = %+v", err.Fields)
	}
	if got, want := domain.Errorf(domain.CodeNotFound, "no %s", "secret").Error(), "not_found: no secret"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}
