package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// Secret is a secret row: masks and versions, never a value. Its shape is the wire
// package's, which the server renders.
type Secret = wire.Secret

// SecretView is a secret row without the caller's permissions (Secret embeds it).
type SecretView = wire.SecretView

// Owner is the user who owns a secret.
type Owner = wire.Owner

// Environments is a secret's state in each of the three environments; Env(slug)
// picks one.
type Environments = wire.Environments

// EnvState is one environment of a secret: whether it has a value, the value's
// version and mask.
type EnvState = wire.EnvState

// Permissions is what the caller may do with a secret.
type Permissions = wire.Permissions

// SecretFilter narrows ListSecrets; zero fields are left out of the query.
type SecretFilter struct {
	// Env keeps secrets with a value in that environment.
	Env string
	// Q is a case-insensitive substring of the name.
	Q string
	// Limit is the page size (server default 100, at most 1,000).
	Limit int
	// Cursor is a NextCursor from a previous page.
	Cursor string
	// AsOf asks for the grid as it was at that instant, rebuilt from the log.
	AsOf time.Time
}

func (f SecretFilter) query() url.Values {
	q := url.Values{}
	if f.Env != "" {
		q.Set("env", f.Env)
	}
	if f.Q != "" {
		q.Set("q", f.Q)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Cursor != "" {
		q.Set("cursor", f.Cursor)
	}
	if !f.AsOf.IsZero() {
		q.Set("as_of", formatTime(f.AsOf))
	}
	return q
}

// SecretPage is one page of secrets, sorted by name; NextCursor is empty on the last.
type SecretPage = wire.Page[Secret]

// ListSecrets returns one page of an organization's secrets.
func (c *Client) ListSecrets(ctx context.Context, org string, f SecretFilter, opts ...CallOption) (SecretPage, error) {
	var out SecretPage
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "secrets"), query: f.query(), opts: opts}, &out)
	return out, err
}

// AllSecrets iterates over every secret that matches f, page after page, starting at
// f.Cursor. It stops at the first error, which it yields.
func (c *Client) AllSecrets(ctx context.Context, org string, f SecretFilter, opts ...CallOption) iter.Seq2[Secret, error] {
	return func(yield func(Secret, error) bool) {
		for {
			page, err := c.ListSecrets(ctx, org, f, opts...)
			if err != nil {
				yield(Secret{}, err)
				return
			}
			for _, s := range page.Items {
				if !yield(s, nil) {
					return
				}
			}
			if page.NextCursor == "" || len(page.Items) == 0 {
				return
			}
			f.Cursor = page.NextCursor
		}
	}
}

// GetSecret returns one secret.
func (c *Client) GetSecret(ctx context.Context, org, id string, opts ...CallOption) (Secret, error) {
	var out Secret
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "secrets", id), opts: opts}, &out)
	return out, err
}

// CreateSecretRequest is the body of POST /orgs/{org}/secrets. Values maps
// environment slugs to values; environments left out have none.
type CreateSecretRequest struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Values      map[string]string `json:"values,omitempty"`
}

// CreateSecret creates a secret owned by the caller.
func (c *Client) CreateSecret(ctx context.Context, org string, req CreateSecretRequest, opts ...CallOption) (Secret, error) {
	var out Secret
	err := c.do(ctx, request{method: http.MethodPost, path: orgPath(org, "secrets"), body: req, opts: opts}, &out)
	return out, err
}

// UpdateSecretRequest is the body of PATCH /orgs/{org}/secrets/{id}: only the fields
// present change. In Values, a non-nil pointer sets that environment's value and a nil
// one removes it; environments left out of the map stay as they are.
type UpdateSecretRequest struct {
	Description *string            `json:"description,omitempty"`
	Values      map[string]*string `json:"values,omitempty"`
	// ExpectedVersion, when set, is the secret's Version the change is based on; a
	// stale one is refused with version_conflict.
	ExpectedVersion *int `json:"expected_version,omitempty"`
}

// UpdateSecret changes a secret's description or values.
func (c *Client) UpdateSecret(ctx context.Context, org, id string, req UpdateSecretRequest, opts ...CallOption) (Secret, error) {
	var out Secret
	err := c.do(ctx, request{method: http.MethodPatch, path: orgPath(org, "secrets", id), body: req, opts: opts}, &out)
	return out, err
}

// DeleteSecret removes the value of one environment when env is not empty, else the
// whole secret (whose name becomes free again).
func (c *Client) DeleteSecret(ctx context.Context, org, id, env string, opts ...CallOption) error {
	var q url.Values
	if env != "" {
		q = url.Values{"env": {env}}
	}
	return c.do(ctx, request{method: http.MethodDelete, path: orgPath(org, "secrets", id), query: q, opts: opts}, nil)
}

// Revealed is a secret's value in one environment. The server audits every reveal.
type Revealed = wire.Revealed

// RevealSecret returns the value of a secret in env.
func (c *Client) RevealSecret(ctx context.Context, org, id, env string) (Revealed, error) {
	var out Revealed
	body := map[string]string{"env": env}
	err := c.do(ctx, request{method: http.MethodPost, path: orgPath(org, "secrets", id, "reveal"), body: body}, &out)
	return out, err
}

// Actor is who did something.
type Actor = wire.Actor

// SecretVersion is one entry of a secret's value history.
type SecretVersion = wire.SecretVersion

// Version history actions.
const (
	ActionCreated    = wire.ActionCreated
	ActionUpdated    = wire.ActionUpdated
	ActionDeleted    = wire.ActionDeleted
	ActionRolledBack = wire.ActionRolledBack
)

// SecretVersions lists a secret's value history, newest first, in env or (env empty)
// in every environment.
func (c *Client) SecretVersions(ctx context.Context, org, id, env string, opts ...CallOption) ([]SecretVersion, error) {
	var q url.Values
	if env != "" {
		q = url.Values{"env": {env}}
	}
	var out wire.List[SecretVersion]
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "secrets", id, "versions"), query: q, opts: opts}, &out)
	return out.Items, err
}

// RollbackSecret makes a new version of env's value equal to an old version.
func (c *Client) RollbackSecret(ctx context.Context, org, id, env string, version int, opts ...CallOption) (Secret, error) {
	var out Secret
	body := map[string]any{"env": env, "version": version}
	err := c.do(ctx, request{method: http.MethodPost, path: orgPath(org, "secrets", id, "rollback"), body: body, opts: opts}, &out)
	return out, err
}
