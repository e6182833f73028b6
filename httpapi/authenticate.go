package httpapi

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
)

// identity is who sent a request.
type identity struct {
	UserID     string
	Email      string
	Name       string
	Superadmin bool
	// SessionKey is the session's bucket key when a session token or cookie was used.
	SessionKey string
	// ViaCookie means the session came from the cookie, so mutations need CSRF.
	ViaCookie bool
	// TokenID is the personal access token used, if any.
	TokenID string
}

type identityLocal struct{}

func identityOf(c *fiber.Ctx) identity {
	id, _ := c.Locals(identityLocal{}).(identity)
	return id
}

// maxUserAgent bounds what an event records of the User-Agent header.
const maxUserAgent = 512

// meta is the command metadata of a request: the caller, its address and agent, and
// the Idempotency-Key.
func (s *Server) meta(c *fiber.Ctx) commands.Meta {
	id := identityOf(c)
	ua := c.Get(fiber.HeaderUserAgent)
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "")
	}
	// Only a request with an Idempotency-Key needs its hash (to bind the key to it):
	// hashing every command's body for nothing would be work on the hot path.
	var reqHash string
	if c.Get(headerIdempotencyKey) != "" {
		reqHash = requestHash(c)
	}
	return commands.Meta{
		UserID:     id.UserID,
		Superadmin: id.Superadmin,
		Actor:      domain.Actor{UserID: id.UserID, TokenID: id.TokenID, IP: s.clientIP(c), UserAgent: ua},
		// The key travels with the command's events into the log, bound to this
		// request, so that a retry finds its first result there even after a crash.
		IdempotencyKey: c.Get(headerIdempotencyKey),
		RequestHash:    reqHash,
	}
}

// authenticate finds the caller (bearer token first, then the session cookie), checks
// CSRF on cookie-authenticated mutations, and honours min_seq on reads.
func (s *Server) authenticate(c *fiber.Ctx) error {
	id, err := s.identify(c)
	if err != nil {
		return err
	}
	if err := checkCSRF(c, id); err != nil {
		return err
	}
	c.Locals(identityLocal{}, id.identity)
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		if err := s.waitMinSeq(c); err != nil {
			return err
		}
	}
	return c.Next()
}

// checkCSRF refuses a cookie-authenticated mutation whose X-CSRF-Token is not the
// session's CSRF token (which the keyledger_csrf cookie holds). Bearer requests need
// none: a browser never adds an Authorization header on its own.
func checkCSRF(c *fiber.Ctx, id identified) error {
	if !id.ViaCookie || !isMutation(c.Method()) {
		return nil
	}
	got := c.Get(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.csrf)) != 1 {
		return &apiError{code: codeCSRF, detail: "Send the keyledger_csrf cookie's value in the X-CSRF-Token header."}
	}
	return nil
}

func isMutation(method string) bool {
	switch method {
	case fiber.MethodPost, fiber.MethodPatch, fiber.MethodDelete, fiber.MethodPut:
		return true
	}
	return false
}

// identified is an identity with the session's CSRF token, which stays out of Locals.
type identified struct {
	identity
	csrf string
}

// credentials are what a request presents to say who it is. They are kept apart from
// the request so that a long-lived response (the change feed) can check them again
// after its handler has returned.
type credentials struct {
	authorization string // the Authorization header as sent
	sessionCookie string
}

func credentialsOf(c *fiber.Ctx) credentials {
	return credentials{authorization: c.Get(fiber.HeaderAuthorization), sessionCookie: c.Cookies(sessionCookie)}
}

func (s *Server) identify(c *fiber.Ctx) (identified, error) {
	return s.identifyCredentials(c.UserContext(), credentialsOf(c))
}

// identifyCredentials finds the caller: a bearer token first, then the session cookie.
func (s *Server) identifyCredentials(ctx context.Context, cr credentials) (identified, error) {
	if h := cr.authorization; h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return identified{}, errUnauthenticated()
		}
		return s.identifyToken(ctx, strings.TrimSpace(token))
	}
	if token := cr.sessionCookie; token != "" {
		id, err := s.identifySession(ctx, token)
		id.ViaCookie = true
		return id, err
	}
	return identified{}, errUnauthenticated()
}

func (s *Server) identifyToken(ctx context.Context, token string) (identified, error) {
	switch {
	case commands.IsPersonalToken(token):
		ti, err := s.authenticateToken(ctx, token, "")
		if err != nil {
			return identified{}, err
		}
		return identified{identity: identity{UserID: ti.UserID, Superadmin: ti.Superadmin, TokenID: ti.TokenID}}, nil
	case commands.IsServiceToken(token):
		// Service tokens speak for an integration, not a user: they only fetch values
		// and ask who they are, on routes that check them themselves (serviceTokenOrUser).
		return identified{}, errUnauthenticated()
	}
	return s.identifySession(ctx, token)
}

func (s *Server) identifySession(ctx context.Context, token string) (identified, error) {
	key, sess, err := s.lookupSession(ctx, token)
	if err != nil {
		return identified{}, err
	}
	return identified{
		identity: identity{UserID: sess.UserID, Email: sess.Email, Name: sess.Name, Superadmin: sess.Superadmin, SessionKey: key},
		csrf:     sess.CSRF,
	}, nil
}

// waitMinSeq waits (bounded) until the read models reflect ?min_seq=. A read that asked
// for a sequence gets it or an error, never an older read as if it were that one: a
// sequence past the log's last event is 400 (it names no write), and one the read
// models have not reached within the wait is 503 unavailable with Retry-After. (Both
// answered 200 with what the read models had, after the wait.)
func (s *Server) waitMinSeq(c *fiber.Ctx) error {
	raw := c.Query("min_seq")
	if raw == "" {
		return nil
	}
	seq, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return errInvalidRequest("min_seq must be a stream sequence (a non-negative integer).")
	}
	if seq == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), s.waitTimeout)
	defer cancel()
	err = s.rm.Progress.WaitFor(ctx, seq)
	if err == nil {
		return nil
	}
	if cerr := c.UserContext().Err(); cerr != nil {
		return cerr
	}
	if err := s.pastTheLog(c.UserContext(), "min_seq", seq, "no write has that sequence."); err != nil {
		return err
	}
	s.log.Warn("min_seq not reached in time", "seq", seq, "err", err)
	return &apiError{code: codeUnavailable, detail: fmt.Sprintf(
		"The read models have not reached sequence %d yet; retry after the time in Retry-After.", seq)}
}
