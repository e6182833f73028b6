package httpapi

import (
	"bytes"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// eraseOrg crypto-shreds an organization (DELETE /orgs/{org}, body {"confirm": name}).
// A missing body is a missing confirmation (422 on confirm), not a malformed request.
func (s *Server) eraseOrg(c *fiber.Ctx) error {
	var req wire.EraseOrgRequest
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := decodeBody(c, &req); err != nil {
			return err
		}
	}
	res, err := s.cmd.EraseOrganization.Handle(c.UserContext(), s.meta(c), commands.EraseOrganization{
		OrgID: c.Params("org"), Confirm: req.Confirm,
	})
	if err != nil {
		return s.refused(c, err)
	}
	// Service tokens of the organization that replicas remember must go at once: the
	// organization answers 404 from now on, to every credential.
	if err := s.auth.Invalidate(c.UserContext(), tagOrg+c.Params("org")); err != nil {
		return err
	}
	s.settle(c, res)
	return c.SendStatus(fiber.StatusNoContent)
}

// platformAudit lists the platform's audit trail to super-admins (GET /admin/audit):
// the erasure records, newest first, read from the log, where they are sealed with the
// platform's key.
func (s *Server) platformAudit(c *fiber.Ctx) error {
	if !identityOf(c).Superadmin {
		return domain.Errorf(domain.CodeForbidden, "Only platform super-admins can read the platform audit trail.")
	}
	ers, err := s.store.Erasures(c.UserContext())
	if err != nil {
		return err
	}
	emails := map[string]string{}
	out := make([]wire.PlatformAuditItem, 0, len(ers))
	for _, er := range ers {
		email, ok := emails[er.Actor.UserID]
		if !ok && er.Actor.UserID != "" {
			if u, err := s.rm.Directory.GetUser(c.UserContext(), er.Actor.UserID); err == nil {
				email = u.Email
			} else if !domain.IsCode(err, domain.CodeNotFound) {
				return err
			}
			emails[er.Actor.UserID] = email
		}
		out = append(out, wire.PlatformAuditItem{
			ID: er.EventID, Seq: er.Seq, At: er.Time.UTC(), Action: domain.AuditOrgErased,
			Actor: wire.Actor{ID: er.Actor.UserID, Email: email}, OrgID: er.OrgID,
			IP: er.Actor.IP, UserAgent: er.Actor.UserAgent,
		})
	}
	return c.JSON(wire.List[wire.PlatformAuditItem]{Items: out})
}
