package httpapi

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/httpapi/wire"
)

type createTokenRequest struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// replayedToken answers a retried creation (the same Idempotency-Key and request): the
// first answer without the token, which is never handed out a second time.
type replayedToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// createToken issues a personal access token; the token is in this response only. A
// retry with the same Idempotency-Key is answered by the command from the log: the
// same token (id), marked as a replay, without the token itself.
func (s *Server) createToken(c *fiber.Ctx) error {
	var req createTokenRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	issued, err := s.cmd.PersonalTokens.Create(c.UserContext(), s.meta(c), commands.CreatePersonalToken{Name: req.Name, ExpiresAt: req.ExpiresAt})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, issued.Result)
	name := strings.TrimSpace(req.Name)
	if issued.Replayed {
		return c.Status(fiber.StatusCreated).JSON(replayedToken{ID: issued.ID, Name: name, ExpiresAt: req.ExpiresAt})
	}
	return c.Status(fiber.StatusCreated).JSON(wire.IssuedToken{ID: issued.ID, Token: issued.Token, Name: name, ExpiresAt: req.ExpiresAt})
}

// listTokens lists the caller's personal access tokens, without the tokens.
func (s *Server) listTokens(c *fiber.Ctx) error {
	ts, err := s.rm.Tokens.ListPersonalTokens(c.UserContext(), identityOf(c).UserID)
	if err != nil {
		return err
	}
	out := make([]wire.PersonalToken, 0, len(ts))
	for _, t := range ts {
		out = append(out, wire.PersonalToken{ID: t.ID, Name: t.Name, ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt.UTC()})
	}
	return c.JSON(wire.List[wire.PersonalToken]{Items: out})
}

// revokeToken ends one of the caller's personal access tokens.
func (s *Server) revokeToken(c *fiber.Ctx) error {
	res, err := s.cmd.PersonalTokens.Revoke(c.UserContext(), s.meta(c), commands.RevokePersonalToken{TokenID: c.Params("id")})
	if ferr := s.forgetToken(c.UserContext(), c.Params("id")); ferr != nil {
		return ferr
	}
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	return c.SendStatus(fiber.StatusNoContent)
}
