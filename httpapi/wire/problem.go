package wire

// Problem codes: the stable, machine-readable code of every error response.
const (
	CodeInvalidJSON          = "invalid_json"
	CodeInvalidRequest       = "invalid_request"
	CodeUnauthenticated      = "unauthenticated"
	CodeForbidden            = "forbidden"
	CodeRevealDisabled       = "reveal_disabled"
	CodeCSRF                 = "csrf"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeSecretNameTaken      = "secret_name_taken"
	CodeVersionConflict      = "version_conflict"
	CodeLastOwner            = "last_owner"
	CodeEmailTaken           = "email_taken"
	CodeTooLarge             = "too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeValidationFailed     = "validation_failed"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeRateLimited          = "rate_limited"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
)

// Problem is an RFC 9457 problem details body (application/problem+json): every
// error response has this shape.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names a field that breaks a rule (validation_failed, too_large).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}
