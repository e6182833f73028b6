package httpapi

import (
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
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
// query string (q holds parts of secret names), headers or body.
func (s *Server) requestLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		p, _ := toProblem(err)
		status = p.Status
	}
	s.metrics.observe(status)
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
