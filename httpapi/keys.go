package httpapi

import (
	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// listDataKeys answers GET /orgs/{org}/keys: the organization's data-key versions,
// oldest first (owner or admin).
func (s *Server) listDataKeys(c *fiber.Ctx) error {
	vs, err := s.cmd.DataKeys.List(c.UserContext(), s.meta(c), c.Params("org"))
	if err != nil {
		return err
	}
	out := make([]wire.DataKey, 0, len(vs))
	for _, v := range vs {
		out = append(out, wire.DataKey{Version: v.Version, CreatedAt: v.CreatedAt.UTC(), State: string(v.State)})
	}
	return c.JSON(wire.List[wire.DataKey]{Items: out})
}

// rotateDataKey answers POST /orgs/{org}/keys/rotate: a new data-key version becomes the
// one new data is sealed with; everything sealed before still opens.
func (s *Server) rotateDataKey(c *fiber.Ctx) error {
	res, version, err := s.cmd.DataKeys.Rotate(c.UserContext(), s.meta(c), commands.RotateDataKey{OrgID: c.Params("org")})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	return c.JSON(wire.DataKeyRotated{Version: version})
}
