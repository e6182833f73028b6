package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// Problem codes of API.md, for IsCode and comparisons with Error.Code.
const (
	CodeInvalidJSON      = wire.CodeInvalidJSON
	CodeInvalidRequest   = wire.CodeInvalidRequest
	CodeUnauthenticated  = wire.CodeUnauthenticated
	CodeForbidden        = wire.CodeForbidden
	CodeRevealDisabled   = wire.CodeRevealDisabled
	CodeCSRF             = wire.CodeCSRF
	CodeNotFound         = wire.CodeNotFound
	CodeSecretNameTaken  = wire.CodeSecretNameTaken
	CodeVersionConflict  = wire.CodeVersionConflict
	CodeLastOwner        = wire.CodeLastOwner
	CodeEmailTaken       = wire.CodeEmailTaken
	CodeTooLarge         = wire.CodeTooLarge
	CodeValidationFailed = wire.CodeValidationFailed
	CodeRateLimited      = wire.CodeRateLimited
	CodeInternal         = wire.CodeInternal
)

// Error is an error response: the server's problem+json (RFC 9457) body and the
// HTTP status. A response that is not problem+json (a proxy's 502 page, say) still
// becomes an Error, with an empty Code. It is the wire package's Problem as a type of
// its own, so that it can be an error; Status is the response's, whatever the body says.
type Error wire.Problem

// FieldError names a field that breaks a rule (validation_failed, too_large).
type FieldError = wire.FieldError

// Error is the problem's detail: a sentence written for people.
func (e *Error) Error() string {
	switch {
	case e.Detail != "":
		return e.Detail
	case e.Title != "":
		return e.Title
	}
	return fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
}

// IsCode reports whether err is (or wraps) an *Error with the given problem code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 1 << 20

// ResponseError is the *Error of a response outside 2xx, as every call of the client
// returns it: the status, and the problem's code and texts when the body is one. It
// reads (a bounded part of) the body; the caller closes it.
func ResponseError(resp *http.Response) error { return decodeError(resp) }

func decodeError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		var p wire.Problem
		if json.Unmarshal(body, &p) == nil {
			e.Type, e.Code, e.Title, e.Detail, e.Errors = p.Type, p.Code, p.Title, p.Detail, p.Errors
		}
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

// NetworkError is a call that got no HTTP response: the server is unreachable, the
// connection broke, or a timeout passed.
type NetworkError struct {
	Method string
	URL    string
	Err    error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("cannot reach the Keyledger server (%s %s): %v", e.Method, e.URL, e.Err)
}

func (e *NetworkError) Unwrap() error { return e.Err }

// unwrapURLError drops net/url's "Get "URL": " prefix, which NetworkError says itself.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// IsUnavailable reports whether err means that the server could not answer: no
// connection, a broken connection, a timeout, or a 5xx status (a proxy whose upstream
// is down, or a server whose backing stores are). It is false for refusals such as
// 401, 403 and 404, and for a context the caller cancelled.
func IsUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne *NetworkError
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.Status >= 500 && e.Status <= 599
}
