package client

import (
	"context"
	"net/http"
	"time"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// User is a platform user.
type User = wire.User

// SignupRequest is the body of POST /auth/signup and, with Superadmin, of POST
// /admin/users.
type SignupRequest struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	Name       string `json:"name"`
	Superadmin bool   `json:"superadmin,omitempty"`
}

// Signup registers a user when the server's sign-up is open (403 otherwise).
// Superadmin must be false here.
func (c *Client) Signup(ctx context.Context, req SignupRequest, opts ...CallOption) (User, error) {
	var out wire.UserEnvelope
	err := c.do(ctx, request{method: http.MethodPost, path: "/auth/signup", body: req, opts: opts}, &out)
	return out.User, err
}

// CreateUser creates a user as a platform super-admin (POST /admin/users).
func (c *Client) CreateUser(ctx context.Context, req SignupRequest, opts ...CallOption) (User, error) {
	var out wire.UserEnvelope
	err := c.do(ctx, request{method: http.MethodPost, path: "/admin/users", body: req, opts: opts}, &out)
	return out.User, err
}

// LoginResult is a new session: Token is a bearer token for it.
type LoginResult = wire.LoginResult

// Login checks a password and starts a session. The client itself keeps no state:
// make a new Client WithToken(result.Token) to act as the user.
func (c *Client) Login(ctx context.Context, email, password string) (LoginResult, error) {
	var out LoginResult
	body := map[string]string{"email": email, "password": password}
	err := c.do(ctx, request{method: http.MethodPost, path: "/auth/login", body: body}, &out)
	return out, err
}

// Logout ends the session whose token the client sends.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodPost, path: "/auth/logout"}, nil)
}

// Membership is one organization the caller belongs to.
type Membership = wire.Membership

// Me is the caller and its organizations.
type Me = wire.Me

// Me returns the caller.
func (c *Client) Me(ctx context.Context, opts ...CallOption) (Me, error) {
	var out Me
	err := c.do(ctx, request{method: http.MethodGet, path: "/me", opts: opts}, &out)
	return out, err
}

// CreatePersonalTokenRequest is the body of POST /auth/tokens.
type CreatePersonalTokenRequest struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// IssuedToken is a new token; Token is shown this once.
type IssuedToken = wire.IssuedToken

// PersonalToken is a personal access token as listed (without the token).
type PersonalToken = wire.PersonalToken

// CreatePersonalToken issues a personal access token (kl_pat_…) for the caller. A
// retry with the same Idempotency-Key answers the first result without its Token (a
// credential is handed out once).
func (c *Client) CreatePersonalToken(ctx context.Context, req CreatePersonalTokenRequest, opts ...CallOption) (IssuedToken, error) {
	var out IssuedToken
	err := c.do(ctx, request{method: http.MethodPost, path: "/auth/tokens", body: req, opts: opts}, &out)
	return out, err
}

// ListPersonalTokens lists the caller's personal access tokens.
func (c *Client) ListPersonalTokens(ctx context.Context, opts ...CallOption) ([]PersonalToken, error) {
	var out wire.List[PersonalToken]
	err := c.do(ctx, request{method: http.MethodGet, path: "/auth/tokens", opts: opts}, &out)
	return out.Items, err
}

// RevokePersonalToken revokes one of the caller's personal access tokens.
func (c *Client) RevokePersonalToken(ctx context.Context, id string, opts ...CallOption) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/auth/tokens/" + seg(id), opts: opts}, nil)
}
