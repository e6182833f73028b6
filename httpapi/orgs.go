package httpapi

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// viewer is the caller as a principal of an organization in which they hold role
// ("" for none), if that lets them see it: the one check every organization read
// makes before it shows anything, so that an outsider learns nothing of it.
func viewer(id identity, role domain.Role) (domain.Principal, error) {
	p := domain.Principal{UserID: id.UserID, Role: role, Superadmin: id.Superadmin}
	if err := domain.Authorize(p, domain.ActionView, domain.Target{}); err != nil {
		return domain.Principal{}, err
	}
	return p, nil
}

// orgAccess is the organization of a request and the caller's place in it.
func (s *Server) orgAccess(c *fiber.Ctx) (projections.Org, domain.Principal, error) {
	return s.orgAccessOf(c.UserContext(), identityOf(c), c.Params("org"))
}

// orgAccessOf is orgAccess for a caller known outside a request (an open stream).
func (s *Server) orgAccessOf(ctx context.Context, id identity, orgID string) (projections.Org, domain.Principal, error) {
	// One read for both (it was two transactions); the role is checked first, as
	// principalOf does, so that an outsider learns nothing of the organization.
	o, role, orgErr := s.rm.Directory.OrgAccess(ctx, orgID, id.UserID)
	if orgErr != nil && !domain.IsCode(orgErr, domain.CodeNotFound) {
		return projections.Org{}, domain.Principal{}, orgErr
	}
	p, err := viewer(id, role)
	if err != nil {
		return projections.Org{}, domain.Principal{}, err
	}
	if orgErr != nil {
		return projections.Org{}, domain.Principal{}, orgErr
	}
	return o, p, nil
}

// orgOut is an organization with the caller's role (null for a super-admin who is not
// a member).
func orgOut(o projections.Org, role domain.Role) wire.Org {
	return wire.Org{ID: o.ID, Name: o.Name, Role: optional(string(role)), RevealPolicy: string(o.RevealPolicy), CreatedAt: o.CreatedAt.UTC()}
}

type createOrgRequest struct {
	Name string `json:"name"`
	// RevealPolicy is optional: the policy the organization starts with (allowed).
	RevealPolicy string `json:"reveal_policy"`
}

func (s *Server) createOrg(c *fiber.Ctx) error {
	var req createOrgRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	res, err := s.cmd.CreateOrganization.Handle(c.UserContext(), s.meta(c), commands.CreateOrganization{
		Name: req.Name, RevealPolicy: domain.RevealPolicy(req.RevealPolicy),
	})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	c.Location("/api/v1/orgs/" + res.ID)
	c.Status(fiber.StatusCreated)
	return s.answerOrg(c, res)
}

func (s *Server) writeOrg(c *fiber.Ctx, orgID string) error {
	o, p, err := s.orgAccessOf(c.UserContext(), identityOf(c), orgID)
	if err != nil {
		return err
	}
	return c.JSON(orgOut(o, p.Role))
}

// answerOrg answers a command on an organization from its own result: the
// organization as the log holds it at the command's sequence, not the read model,
// which may not show it yet.
func (s *Server) answerOrg(c *fiber.Ctx, res commands.Result) error {
	o, _, err := commands.OrganizationAt(c.UserContext(), s.store, res.ID, res.Seq)
	if err != nil {
		return err
	}
	return c.JSON(wire.Org{ID: o.ID(), Name: o.Name(), Role: optional(string(o.Role(identityOf(c).UserID))),
		RevealPolicy: string(o.RevealPolicy()), CreatedAt: o.CreatedAt().UTC()})
}

func (s *Server) listOrgs(c *fiber.Ctx) error {
	ms, err := s.rm.Directory.MembershipsOf(c.UserContext(), identityOf(c).UserID)
	if err != nil {
		return err
	}
	out := make([]wire.Org, 0, len(ms))
	for _, m := range ms {
		o, err := s.rm.Directory.GetOrg(c.UserContext(), m.OrgID)
		if domain.IsCode(err, domain.CodeNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		out = append(out, orgOut(o, m.Role))
	}
	return c.JSON(wire.List[wire.Org]{Items: out})
}

func (s *Server) getOrg(c *fiber.Ctx) error {
	return s.writeOrg(c, c.Params("org"))
}

type updateOrgRequest struct {
	Name         *string `json:"name"`
	RevealPolicy *string `json:"reveal_policy"`
}

func (s *Server) updateOrg(c *fiber.Ctx) error {
	var req updateOrgRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	cmd := commands.UpdateOrganization{OrgID: c.Params("org"), Name: req.Name}
	if req.RevealPolicy != nil {
		rp, err := domain.ParseRevealPolicy(*req.RevealPolicy)
		if err != nil {
			return err
		}
		cmd.RevealPolicy = &rp
	}
	res, err := s.cmd.UpdateOrganization.Handle(c.UserContext(), s.meta(c), cmd)
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	return s.answerOrg(c, res)
}

func (s *Server) listEnvironments(c *fiber.Ctx) error {
	if _, _, err := s.orgAccess(c); err != nil {
		return err
	}
	out := []wire.Environment{}
	for _, e := range domain.Environments() {
		out = append(out, wire.Environment{Slug: string(e), Name: e.DisplayName()})
	}
	return c.JSON(wire.List[wire.Environment]{Items: out})
}
