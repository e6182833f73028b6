package httpapi

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/storeerr"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// Codes the HTTP layer adds to the domain's (which are API codes already).
const (
	codeInvalidJSON      = "invalid_json"
	codeInvalidRequest   = "invalid_request"
	codeCSRF             = "csrf"
	codeRateLimited      = "rate_limited"
	codeMethodNotAllowed = "method_not_allowed"
	// codeUnsupportedMediaType refuses a body that is not declared as JSON.
	codeUnsupportedMediaType = "unsupported_media_type"
	codeInternal             = "internal"
	// codeUnavailable answers a request while the event log (or the NATS buckets
	// beside it) does not answer: the server is fine, the request may be retried.
	codeUnavailable = "unavailable"
)

// retryAfterSeconds is the Retry-After of an unavailable answer: a JetStream leader
// election takes a few seconds, and clients should not hammer NATS while it runs.
const retryAfterSeconds = "2"

// errorRow is one row of the error table: a stable code, its status and its title.
type errorRow struct {
	Code   string
	Status int
	Title  string
}

// errorTable is the one place that maps error codes to HTTP. It is a constant table,
// not state; TestErrorTable covers every row.
var errorTable = []errorRow{
	{codeInvalidJSON, fiber.StatusBadRequest, "Body is not JSON"},
	{codeInvalidRequest, fiber.StatusBadRequest, "Invalid request"},
	{string(domain.CodeUnauthenticated), fiber.StatusUnauthorized, "Authentication required"},
	{string(domain.CodeForbidden), fiber.StatusForbidden, "Forbidden"},
	{string(domain.CodeRevealDisabled), fiber.StatusForbidden, "Reveal disabled"},
	{codeCSRF, fiber.StatusForbidden, "CSRF token missing or wrong"},
	{string(domain.CodeNotFound), fiber.StatusNotFound, "Not found"},
	{codeMethodNotAllowed, fiber.StatusMethodNotAllowed, "Method not allowed"},
	{string(domain.CodeSecretNameTaken), fiber.StatusConflict, "Secret name taken"},
	{string(domain.CodeVersionConflict), fiber.StatusConflict, "Version conflict"},
	{string(domain.CodeLastOwner), fiber.StatusConflict, "Last owner"},
	{string(domain.CodeEmailTaken), fiber.StatusConflict, "Email taken"},
	{string(domain.CodeIdempotencyKeyReused), fiber.StatusUnprocessableEntity, "Idempotency key reused"},
	{string(domain.CodeTooLarge), fiber.StatusRequestEntityTooLarge, "Too large"},
	{codeUnsupportedMediaType, fiber.StatusUnsupportedMediaType, "Unsupported media type"},
	{string(domain.CodeValidation), fiber.StatusUnprocessableEntity, "Validation failed"},
	{codeRateLimited, fiber.StatusTooManyRequests, "Too many attempts"},
	{codeInternal, fiber.StatusInternalServerError, "Internal error"},
	{codeUnavailable, fiber.StatusServiceUnavailable, "Unavailable"},
}

func lookupRow(code string) (errorRow, bool) {
	for _, r := range errorTable {
		if r.Code == code {
			return r, true
		}
	}
	return errorRow{}, false
}

// problemTypeBase prefixes a problem's type URI; the code completes it.
const problemTypeBase = "urn:keyledger:problem:"

// problem is an RFC 9457 problem details body, in the wire package's shape.
type problem = wire.Problem

// fieldErrors is the domain's field errors as the wire names them.
func fieldErrors(fields []domain.FieldError) []wire.FieldError {
	if fields == nil {
		return nil
	}
	out := make([]wire.FieldError, 0, len(fields))
	for _, f := range fields {
		out = append(out, wire.FieldError{Field: f.Field, Message: f.Message})
	}
	return out
}

// apiError is an error the HTTP layer raises itself (bad JSON, CSRF, rate limits).
// Detail is a sentence safe to show; it never contains a request's values.
type apiError struct {
	code   string
	detail string
}

func (e *apiError) Error() string { return e.code + ": " + e.detail }

func errInvalidRequest(detail string) error {
	return &apiError{code: codeInvalidRequest, detail: detail}
}
func errInvalidJSON(detail string) error { return &apiError{code: codeInvalidJSON, detail: detail} }

func errUnauthenticated() error {
	return domain.Errorf(domain.CodeUnauthenticated, "Log in or send a valid bearer token.")
}

func errNotFound() error { return domain.Errorf(domain.CodeNotFound, "The resource was not found.") }

// toProblem turns any error into the problem the client sees, and reports whether it
// is an internal error (which the caller logs). unavailable is the server's
// Config.Unavailable: whether err means the log did not answer in time.
func toProblem(err error, unavailable func(error) bool) (problem, bool) {
	code, detail, fields := classify(err, unavailable)
	row, ok := lookupRow(code)
	if !ok {
		code, detail, fields = codeInternal, "", nil
		row, _ = lookupRow(codeInternal)
	}
	if code == codeInternal {
		detail = "The server failed to handle this request. It has been logged."
	}
	if detail == "" {
		detail = row.Title + "."
	}
	p := problem{Type: problemTypeBase + code, Title: row.Title, Status: row.Status, Detail: detail, Code: code}
	if code == string(domain.CodeValidation) || code == string(domain.CodeTooLarge) {
		p.Errors = fieldErrors(fields)
	}
	if code == string(domain.CodeValidation) && len(p.Errors) == 0 {
		p.Errors = []wire.FieldError{}
	}
	return p, code == codeInternal
}

// classify finds an error's code, a safe detail and the fields it names.
func classify(err error, unavailable func(error) bool) (code, detail string, fields []domain.FieldError) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.code, ae.detail, nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return string(de.Code), de.Message, de.Fields
	}
	if errors.Is(err, storeerr.ErrErased) {
		return string(domain.CodeNotFound), "The organization was not found.", nil
	}
	if errors.Is(err, storeerr.ErrVersionConflict) {
		return string(domain.CodeVersionConflict), "A concurrent write won; reload and retry.", nil
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fiberCode(fe.Code)
	}
	if errors.Is(err, projections.ErrUnavailable) {
		return codeUnavailable, "The database is unavailable for now; retry after the time in Retry-After.", nil
	}
	if errors.Is(err, storeerr.ErrUnavailable) || (unavailable != nil && unavailable(err)) {
		return codeUnavailable, "The event log is unavailable for now; retry after the time in Retry-After.", nil
	}
	return codeInternal, "", nil
}

// fiberCode maps the errors Fiber raises itself (no route, body limit, bad request
// line) without echoing their messages, which can contain the request's path.
func fiberCode(status int) (code, detail string, fields []domain.FieldError) {
	switch status {
	case fiber.StatusNotFound:
		return string(domain.CodeNotFound), "No such resource.", nil
	case fiber.StatusMethodNotAllowed:
		return codeMethodNotAllowed, "This resource does not support this method.", nil
	case fiber.StatusRequestEntityTooLarge:
		return string(domain.CodeTooLarge), "The request body is larger than 1 MiB.", nil
	case fiber.StatusUnsupportedMediaType:
		return codeUnsupportedMediaType, "Send the request body as JSON, with Content-Type: application/json.", nil
	case fiber.StatusBadRequest, fiber.StatusRequestHeaderFieldsTooLarge, fiber.StatusRequestTimeout:
		return codeInvalidRequest, "The request could not be read.", nil
	}
	return codeInternal, "", nil
}

// errorHandler is Fiber's ErrorHandler: every error of every route (and of the server
// itself, such as a body over the limit) ends here and leaves as problem+json.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	if errors.Is(err, fiber.ErrRequestTimeout) && len(c.Request().Header.RawHeaders()) == 0 {
		// The read timeout passed on a connection that carried no request: one a client
		// opened and kept in reserve (HTTP clients do). The server closes it unanswered.
		// An answer would arrive on a connection the client thinks idle, and a request
		// it sends there at that moment would be answered with this 400, unread.
		// (fasthttp writes whatever the handler leaves to the closed connection, which
		// fails unseen.)
		if conn := c.Context().Conn(); conn != nil {
			_ = conn.Close()
		}
		return nil
	}
	p, internal := toProblem(err, s.unavailable)
	if internal {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	} else {
		s.log.Debug("request refused", "method", c.Method(), "path", c.Path(), "code", p.Code)
	}
	var audited *commands.AuditedError
	if errors.As(err, &audited) && audited.Seq > 0 {
		c.Set(headerSeq, strconv.FormatUint(audited.Seq, 10))
	}
	if p.Code == codeUnavailable {
		// Logged (at warning: the server is not broken) so that an operator sees why.
		s.log.Warn("request refused: unavailable", "method", c.Method(), "path", c.Path(), "err", err)
		c.Set(fiber.HeaderRetryAfter, retryAfterSeconds)
	}
	return writeProblem(c, s.secure, p)
}

func writeProblem(c *fiber.Ctx, secure bool, p problem) error {
	setSecurityHeaders(c, secure)
	if isAPIPath(c.Path()) {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	c.Status(p.Status)
	if err := c.JSON(p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return nil
}
