package httpapi

import (
	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

func memberOut(m projections.Member) wire.Member {
	return wire.Member{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: string(m.Role), AddedAt: m.AddedAt.UTC()}
}

// manager checks that the caller may manage the organization in the path (priority ≥
// 100: owners and admins), which listing its members, tokens, webhooks and audit trail
// takes, and returns the organization.
func (s *Server) manager(c *fiber.Ctx) (projections.Org, error) {
	org, p, err := s.orgAccess(c)
	if err != nil {
		return projections.Org{}, err
	}
	return org, domain.Authorize(p, domain.ActionManage, domain.Target{})
}

func (s *Server) listMembers(c *fiber.Ctx) error {
	if _, err := s.manager(c); err != nil {
		return err
	}
	ms, err := s.rm.Directory.ListMembers(c.UserContext(), c.Params("org"))
	if err != nil {
		return err
	}
	out := make([]wire.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberOut(m))
	}
	return c.JSON(wire.List[wire.Member]{Items: out})
}

// answerMember answers a command on a membership from its own result: the member as
// the log holds it at the command's sequence.
func (s *Server) answerMember(c *fiber.Ctx, orgID string, res commands.Result) error {
	m, err := commands.MemberAt(c.UserContext(), s.store, orgID, res.ID, res.Seq)
	if err != nil {
		return err
	}
	return c.JSON(wire.Member{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: string(m.Role), AddedAt: m.AddedAt.UTC()})
}

type addMemberRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

func (s *Server) addMember(c *fiber.Ctx) error {
	var req addMemberRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		return err
	}
	orgID := c.Params("org")
	res, err := s.cmd.AddMember.Handle(c.UserContext(), s.meta(c), commands.AddMember{OrgID: orgID, Email: req.Email, Role: role})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	c.Location("/api/v1/orgs/" + orgID + "/members/" + res.ID)
	c.Status(fiber.StatusCreated)
	return s.answerMember(c, orgID, res)
}

type changeRoleRequest struct {
	Role string `json:"role"`
}

func (s *Server) changeMemberRole(c *fiber.Ctx) error {
	var req changeRoleRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	role, err := domain.ParseRole(req.Role)
	if err != nil {
		return err
	}
	orgID, userID := c.Params("org"), c.Params("user")
	res, err := s.cmd.ChangeMemberRole.Handle(c.UserContext(), s.meta(c), commands.ChangeMemberRole{OrgID: orgID, UserID: userID, Role: role})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	return s.answerMember(c, orgID, res)
}

func (s *Server) removeMember(c *fiber.Ctx) error {
	res, err := s.cmd.RemoveMember.Handle(c.UserContext(), s.meta(c), commands.RemoveMember{OrgID: c.Params("org"), UserID: c.Params("user")})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	return c.SendStatus(fiber.StatusNoContent)
}
