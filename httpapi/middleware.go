package httpapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/domain"
)

// contentSecurityPolicy allows the dashboard's own scripts, style sheets, images, fonts
// and API calls, and nothing else: no inline styles or scripts, no data: URLs (the
// dashboard and its grid need none; the browser tests run under this policy).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// hsts is sent under TLS only: two years, subdomains included.
const hsts = "max-age=63072000; includeSubDomains"

func isAPIPath(p string) bool { return p == "/api" || strings.HasPrefix(p, "/api/") }

// setSecurityHeaders sets the headers every response carries. The error handler calls
// it too, because errors the server raises before routing (a body over the limit)
// never pass through the middleware.
func setSecurityHeaders(c *fiber.Ctx, secure bool) {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	if secure {
		c.Set(fiber.HeaderStrictTransportSecurity, hsts)
	}
}

// securityHeaders sets the security headers, and Cache-Control: no-store on /api.
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	setSecurityHeaders(c, s.secure)
	if isAPIPath(c.Path()) {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return c.Next()
}

// requestLog logs one line per request: method, path, status and duration. Never the
// query string (q holds parts of secret names), headers or body. It also counts and
// times the request under its route's pattern, which Fiber knows once the request has
// been routed; the path itself holds ids and would make a series per secret.
func (s *Server) requestLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := answeredStatus(c, err, s.unavailable)
	s.metrics.observeRequest(c.Method(), c.Route().Path, status, time.Since(start))
	level := slog.LevelInfo
	if isProbe(c.Path()) {
		level = slog.LevelDebug
	}
	s.log.Log(c.UserContext(), level, "http", "method", c.Method(), "path", c.Path(), "status", status,
		"ms", time.Since(start).Milliseconds())
	return err
}

// limitBody refuses bodies over MaxBodyBytes with too_large, and compressed bodies
// altogether: Fiber would inflate them without a bound.
func limitBody(c *fiber.Ctx) error {
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return errInvalidRequest("Compressed request bodies are not accepted.")
	}
	if len(c.Request().Body()) > MaxBodyBytes {
		return fiber.ErrRequestEntityTooLarge
	}
	return c.Next()
}

// isProbe reports whether a path is polled by orchestrators and scrapers, whose
// requests are logged at debug level only.
func isProbe(p string) bool { return p == "/healthz" || p == "/readyz" || p == "/metrics" }

// requireJSONBody refuses a request body that is not declared as JSON with
// unsupported_media_type. A browser sends text/plain, form and multipart bodies to any
// site without asking it first (no CORS preflight), so accepting them would let another
// site log a visitor in as the attacker (login CSRF) or sign accounts up; a JSON
// content type cannot be sent cross-site without a preflight, which this server never
// grants. A request without a body (logout, DELETE) needs no Content-Type.
func requireJSONBody(c *fiber.Ctx) error {
	if len(c.Request().Body()) == 0 || isJSONMediaType(c.Get(fiber.HeaderContentType)) {
		return c.Next()
	}
	return &apiError{code: codeUnsupportedMediaType,
		detail: "Send the request body as JSON, with Content-Type: application/json."}
}

// isJSONMediaType accepts application/json and the structured-syntax suffix
// application/*+json (RFC 6839), in UTF-8: a charset parameter other than UTF-8 is
// refused, since the body is read as UTF-8 whatever it says.
func isJSONMediaType(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	if !ok || (sub != "json" && !strings.HasSuffix(sub, "+json")) {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "utf8")
}

// checkQuery refuses an API request whose query string is ambiguous or not text, with
// invalid_request, before any handler reads it:
//
//   - a parameter given twice: Fiber's Query reads the first, a proxy, a gateway or
//     whoever reads the URL in a log may read the last, so the two disagree on what was
//     asked (DELETE …?env=&env=production removed the whole secret, where the last
//     env names one environment's value; the same reason a JSON body may not name a
//     field twice);
//   - a name or value that is not UTF-8 or holds a control character (domain.IsControl):
//     no parameter takes one, and a NUL in actor= reached PostgreSQL, which refused it
//     (a 500, and an audit export that answered 200 with no body at all).
func checkQuery(c *fiber.Ctx) error {
	if !isAPIPath(c.Path()) {
		return c.Next()
	}
	args := c.Context().QueryArgs()
	n := args.Len()
	if n == 0 {
		return c.Next()
	}
	var bad error
	keys := make([][]byte, 0, n)
	args.VisitAll(func(k, v []byte) {
		if bad != nil {
			return
		}
		switch {
		case !queryText(k):
			bad = errInvalidRequest("A query parameter's name is not text (it has a control character or bytes that are not UTF-8).")
		case !queryText(v):
			bad = errInvalidRequest(fmt.Sprintf("The query parameter %q is not text (it has a control character or bytes that are not UTF-8).", k))
		case slices.ContainsFunc(keys, func(seen []byte) bool { return bytes.Equal(seen, k) }):
			bad = errInvalidRequest(fmt.Sprintf("The query parameter %q is given more than once.", k))
		}
		keys = append(keys, k)
	})
	if bad != nil {
		return bad
	}
	return c.Next()
}

// queryText reports whether b is UTF-8 without control characters.
func queryText(b []byte) bool {
	return utf8.Valid(b) && !bytes.ContainsFunc(b, domain.IsControl)
}

// rejectStrayCursor answers invalid_request to a cursor sent to a route that does not
// page: no cursor of it was ever returned, so the cursor is invalid, and ignoring it
// would hand back a first page as if it were the one asked for.
func rejectStrayCursor(c *fiber.Ctx) error {
	if c.Query("cursor") == "" || !isAPIPath(c.Path()) || pages(c.Path()) {
		return c.Next()
	}
	return errInvalidRequest("cursor is not one this server returned: this route does not page.")
}

// pages reports whether path is a list that pages with a cursor: the secrets grid or
// the audit trail, /api/v1/orgs/{org}/secrets or /audit. A list that starts to page is
// added here. Fiber routes paths case-insensitively and with or without a trailing
// slash, and so does this.
func pages(path string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSuffix(strings.ToLower(path), "/"), "/api/v1/orgs/")
	if !ok {
		return false
	}
	org, list, ok := strings.Cut(rest, "/")
	if !ok || org == "" {
		return false
	}
	switch list {
	case "secrets", "audit":
		return true
	}
	return false
}
