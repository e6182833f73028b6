package client

import (
	"context"
	"net/http"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// Roles of API.md.
const (
	RoleOwner  = wire.RoleOwner
	RoleAdmin  = wire.RoleAdmin
	RoleEditor = wire.RoleEditor
	RoleViewer = wire.RoleViewer
)

// Reveal policies of an organization.
const (
	RevealAllowed  = wire.RevealAllowed
	RevealDisabled = wire.RevealDisabled
)

// Org is an organization with the caller's role in it. Role is nil for a platform
// super-admin who is not a member.
type Org = wire.Org

// CreateOrg creates an organization owned by the caller.
func (c *Client) CreateOrg(ctx context.Context, name string, opts ...CallOption) (Org, error) {
	var out Org
	err := c.do(ctx, request{method: http.MethodPost, path: "/orgs", body: map[string]string{"name": name}, opts: opts}, &out)
	return out, err
}

// ListOrgs lists the organizations the caller belongs to.
func (c *Client) ListOrgs(ctx context.Context, opts ...CallOption) ([]Org, error) {
	var out wire.List[Org]
	err := c.do(ctx, request{method: http.MethodGet, path: "/orgs", opts: opts}, &out)
	return out.Items, err
}

// GetOrg returns one organization.
func (c *Client) GetOrg(ctx context.Context, org string, opts ...CallOption) (Org, error) {
	var out Org
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org), opts: opts}, &out)
	return out, err
}

// UpdateOrgRequest changes the fields that are not nil.
type UpdateOrgRequest struct {
	Name         *string `json:"name,omitempty"`
	RevealPolicy *string `json:"reveal_policy,omitempty"`
}

// UpdateOrg renames an organization or changes its reveal policy.
func (c *Client) UpdateOrg(ctx context.Context, org string, req UpdateOrgRequest, opts ...CallOption) (Org, error) {
	var out Org
	err := c.do(ctx, request{method: http.MethodPatch, path: orgPath(org), body: req, opts: opts}, &out)
	return out, err
}

// Environment is one of the three environments of every organization.
type Environment = wire.Environment

// Environment slugs.
const (
	Development = wire.Development
	Staging     = wire.Staging
	Production  = wire.Production
)

// ListEnvironments lists an organization's environments.
func (c *Client) ListEnvironments(ctx context.Context, org string, opts ...CallOption) ([]Environment, error) {
	var out wire.List[Environment]
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "environments"), opts: opts}, &out)
	return out.Items, err
}

// Member is a user's membership of an organization.
type Member = wire.Member

// ListMembers lists an organization's members (admins and owners only).
func (c *Client) ListMembers(ctx context.Context, org string, opts ...CallOption) ([]Member, error) {
	var out wire.List[Member]
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "members"), opts: opts}, &out)
	return out.Items, err
}

// AddMember adds the registered user with email to the organization with role.
func (c *Client) AddMember(ctx context.Context, org, email, role string, opts ...CallOption) (Member, error) {
	var out Member
	body := map[string]string{"email": email, "role": role}
	err := c.do(ctx, request{method: http.MethodPost, path: orgPath(org, "members"), body: body, opts: opts}, &out)
	return out, err
}

// ChangeMemberRole gives a member another role.
func (c *Client) ChangeMemberRole(ctx context.Context, org, userID, role string, opts ...CallOption) (Member, error) {
	var out Member
	body := map[string]string{"role": role}
	err := c.do(ctx, request{method: http.MethodPatch, path: orgPath(org, "members", userID), body: body, opts: opts}, &out)
	return out, err
}

// RemoveMember removes a member from the organization.
func (c *Client) RemoveMember(ctx context.Context, org, userID string, opts ...CallOption) error {
	return c.do(ctx, request{method: http.MethodDelete, path: orgPath(org, "members", userID), opts: opts}, nil)
}
