package domain

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. The HTTP layer maps each code to a
// status and a problem+json body in one table; clients match on it, never on text.
type Code string

// The domain's error codes. They are the codes of the API contract.
const (
	CodeValidation      Code = "validation_failed"
	CodeTooLarge        Code = "too_large"
	CodeNotFound        Code = "not_found"
	CodeForbidden       Code = "forbidden"
	CodeRevealDisabled  Code = "reveal_disabled"
	CodeSecretNameTaken Code = "secret_name_taken"
	CodeVersionConflict Code = "version_conflict"
	CodeLastOwner       Code = "last_owner"
	CodeEmailTaken      Code = "email_taken"
	CodeUnauthenticated Code = "unauthenticated"
	// CodeIdempotencyKeyReused: an Idempotency-Key sent again with another request.
	CodeIdempotencyKeyReused Code = "idempotency_key_reused"
)

// FieldError names the input field that broke a rule and says which rule.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type the domain returns. Message is a human sentence safe to
// show to the caller: it never contains a secret value.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf builds a domain error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid builds a validation error for one field.
func Invalid(field, message string) *Error {
	return &Error{
		Code:    CodeValidation,
		Message: fmt.Sprintf("%s: %s", field, message),
		Fields:  []FieldError{{Field: field, Message: message}},
	}
}

// ErrorCode returns the domain code carried by err, or "" when err is not a domain error.
func ErrorCode(err error) Code {
	var de *Error
	if errors.As(err, &de) {
		return de.Code
	}
	return ""
}

// IsCode reports whether err carries the given domain code.
func IsCode(err error, code Code) bool { return ErrorCode(err) == code }
