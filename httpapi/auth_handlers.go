package httpapi

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

func userFromReadModel(u projections.User) wire.User {
	return wire.User{ID: u.ID, Email: u.Email, Name: u.Name, Superadmin: u.Superadmin}
}

type signupRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// signup registers a user when sign-up is open.
func (s *Server) signup(c *fiber.Ctx) error {
	if !s.signupOpen {
		return domain.Errorf(domain.CodeForbidden, "Sign-up is closed on this server; ask an administrator for an account.")
	}
	var req signupRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	return s.registerUser(c, req, false)
}

type createUserRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	Name       string `json:"name"`
	Superadmin bool   `json:"superadmin"`
}

// createUser lets a platform super-admin create a user, possibly another super-admin.
func (s *Server) createUser(c *fiber.Ctx) error {
	if !identityOf(c).Superadmin {
		return domain.Errorf(domain.CodeForbidden, "Only platform super-admins can create users.")
	}
	var req createUserRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	return s.registerUser(c, signupRequest{Email: req.Email, Password: req.Password, Name: req.Name}, req.Superadmin)
}

func (s *Server) registerUser(c *fiber.Ctx, req signupRequest, superadmin bool) error {
	res, err := s.cmd.RegisterUser.Handle(c.UserContext(), s.meta(c), commands.RegisterUser{
		Email: req.Email, Name: req.Name, Password: domain.NewPlaintext(req.Password), Superadmin: superadmin,
	})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	// The answer comes from the log, the command's own result: the read models may
	// not show the new user yet.
	u, err := commands.LoadUser(c.UserContext(), s.store, res.ID)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(wire.UserEnvelope{User: wire.User{ID: u.ID(), Email: u.Email(), Name: u.Name(), Superadmin: u.Superadmin()}})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// login checks a password and starts a session: a bearer token in the body and the
// same token in an HttpOnly cookie, with a readable CSRF cookie beside it.
func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	email, _ := domain.NormalizeEmail(req.Email)
	if email == "" {
		email = req.Email
	}
	ip := s.clientIP(c)
	if ok, wait := s.limiter.begin(email, ip); !ok {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Seconds())+1))
		return &apiError{code: codeRateLimited, detail: "Too many failed logins; wait a while and try again."}
	}
	u, err := s.cmd.Authenticate.Handle(c.UserContext(), commands.Authenticate{Email: req.Email, Password: domain.NewPlaintext(req.Password)})
	switch {
	case domain.IsCode(err, domain.CodeUnauthenticated):
		s.limiter.end(email, ip, loginFailed)
		s.metrics.loginFailures.Add(1)
		return err
	case err != nil:
		// An error that says nothing of the password (the log unavailable) is none.
		s.limiter.end(email, ip, loginUndecided)
		return err
	}
	s.limiter.end(email, ip, loginSucceeded)
	token, sess, err := s.sessions.create(c.UserContext(), u)
	if err != nil {
		return err
	}
	s.setSessionCookies(c, token, sess.CSRF, sess.ExpiresAt)
	return c.JSON(wire.LoginResult{
		User:      wire.User{ID: u.ID, Email: u.Email, Name: u.Name, Superadmin: u.Superadmin},
		Token:     token,
		ExpiresAt: &sess.ExpiresAt,
	})
}

func (s *Server) setSessionCookies(c *fiber.Ctx, token, csrf string, expires time.Time) {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: expires,
		Secure: s.secure, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode})
	c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: csrf, Path: "/", Expires: expires,
		Secure: s.secure, HTTPOnly: false, SameSite: fiber.CookieSameSiteStrictMode})
}

func (s *Server) clearSessionCookies(c *fiber.Ctx) {
	past := time.Unix(0, 0)
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: "", Path: "/", Expires: past, MaxAge: -1,
		Secure: s.secure, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode})
	c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: "", Path: "/", Expires: past, MaxAge: -1,
		Secure: s.secure, SameSite: fiber.CookieSameSiteStrictMode})
}

// logout ends the session on the server: its token no longer authenticates anyone,
// on any replica. A request whose session is already gone (or that has none) still
// gets its cookies cleared and 204, so that a browser can always log out; a live
// cookie session needs the CSRF header like any mutation.
func (s *Server) logout(c *fiber.Ctx) error {
	id, err := s.identify(c)
	switch {
	case domain.IsCode(err, domain.CodeUnauthenticated):
	case err != nil:
		return err
	default:
		if err := checkCSRF(c, id); err != nil {
			return err
		}
		if id.SessionKey != "" {
			if err := s.sessions.end(c.UserContext(), id.SessionKey); err != nil {
				return err
			}
			if err := s.auth.Invalidate(c.UserContext(), tagSession+id.SessionKey); err != nil {
				return err
			}
		}
	}
	s.clearSessionCookies(c)
	return c.SendStatus(fiber.StatusNoContent)
}

// me is the caller and the organizations it belongs to; for a service token, the
// token and its organization (serviceTokenMe).
func (s *Server) me(c *fiber.Ctx) error {
	if c.Locals(identityLocal{}) == nil {
		return s.serviceTokenMe(c)
	}
	id := identityOf(c)
	user := wire.User{ID: id.UserID, Email: id.Email, Name: id.Name, Superadmin: id.Superadmin}
	u, err := s.rm.Directory.GetUser(c.UserContext(), id.UserID)
	switch {
	case err == nil:
		user = userFromReadModel(u)
	case !domain.IsCode(err, domain.CodeNotFound):
		return err
	}
	ms, err := s.rm.Directory.MembershipsOf(c.UserContext(), id.UserID)
	if err != nil {
		return err
	}
	out := make([]wire.Membership, 0, len(ms))
	for _, m := range ms {
		out = append(out, wire.Membership{OrgID: m.OrgID, OrgName: m.OrgName, Role: string(m.Role)})
	}
	return c.JSON(wire.Me{User: user, Memberships: out})
}

// serviceTokenMe answers GET /me for a service token, which names neither its
// organization nor a user: the log says which organization holds it (and checks it
// there), so that an integration given an organization's name can find the id the
// values route needs, and see its own scope.
func (s *Server) serviceTokenMe(c *fiber.Ctx) error {
	token, _ := bearerServiceToken(c)
	ti, err := s.identifyServiceToken(c.UserContext(), token)
	if err != nil {
		return err
	}
	if err := s.waitMinSeq(c); err != nil {
		return err
	}
	org, err := s.rm.Directory.GetOrg(c.UserContext(), ti.OrgID)
	if err != nil {
		return err
	}
	return c.JSON(wire.ServiceTokenMe{ServiceToken: wire.ServiceTokenSelf{
		ID: ti.TokenID, Name: ti.Name, OrgID: ti.OrgID, OrgName: org.Name,
		Environments: envSlugs(ti.Environments), ExpiresAt: ti.ExpiresAt,
	}})
}
