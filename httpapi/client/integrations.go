package client

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// CreateServiceTokenRequest is the body of POST /orgs/{org}/service-tokens.
type CreateServiceTokenRequest struct {
	Name         string     `json:"name"`
	Environments []string   `json:"environments"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
}

// ServiceToken is a service token as listed (without the token).
type ServiceToken = wire.ServiceToken

// CreateServiceToken issues a token (kl_st_…) that fetches the organization's values
// in the given environments.
func (c *Client) CreateServiceToken(ctx context.Context, org string, req CreateServiceTokenRequest, opts ...CallOption) (IssuedToken, error) {
	var out IssuedToken
	err := c.do(ctx, request{method: http.MethodPost, path: orgPath(org, "service-tokens"), body: req, opts: opts}, &out)
	return out, err
}

// ListServiceTokens lists an organization's service tokens.
func (c *Client) ListServiceTokens(ctx context.Context, org string, opts ...CallOption) ([]ServiceToken, error) {
	var out wire.List[ServiceToken]
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "service-tokens"), opts: opts}, &out)
	return out.Items, err
}

// RevokeServiceToken revokes a service token; it stops working on the next request.
func (c *Client) RevokeServiceToken(ctx context.Context, org, id string, opts ...CallOption) error {
	return c.do(ctx, request{method: http.MethodDelete, path: orgPath(org, "service-tokens", id), opts: opts}, nil)
}

// ServiceTokenSelf is the calling service token as GET /me describes it, with the
// organization it belongs to.
type ServiceTokenSelf = wire.ServiceTokenSelf

// CurrentServiceToken asks the server which service token the client's token is (GET
// /me with a kl_st_… token): its organization's id and name, and its scope. With a
// user's token or session it fails: use Me.
func (c *Client) CurrentServiceToken(ctx context.Context, opts ...CallOption) (ServiceTokenSelf, error) {
	var out wire.ServiceTokenMe
	if err := c.do(ctx, request{method: http.MethodGet, path: "/me", opts: opts}, &out); err != nil {
		return ServiceTokenSelf{}, err
	}
	if out.ServiceToken.OrgID == "" {
		return ServiceTokenSelf{}, errors.New("keyledger: the server describes this caller as a user, not a service token")
	}
	return out.ServiceToken, nil
}

// Values is every value of one environment, by secret name, and the stream sequence
// of the audit record the fetch made.
type Values = wire.Values

// Values fetches every value of an environment in clear (a service token scoped to
// env, or a member allowed to reveal). The server audits it as secrets.fetched.
func (c *Client) Values(ctx context.Context, org, env string, opts ...CallOption) (Values, error) {
	var out Values
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "environments", env, "values"), opts: opts}, &out)
	if err == nil && out.Values == nil {
		out.Values = map[string]string{}
	}
	return out, err
}
