package httpapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/domain/jsonappend"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

type createServiceTokenRequest struct {
	Name         string     `json:"name"`
	Environments []string   `json:"environments"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

func serviceTokenOut(t projections.ServiceTokenInfo) wire.ServiceToken {
	return wire.ServiceToken{ID: t.ID, Name: t.Name, Environments: envSlugs(t.Environments), ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt.UTC(), CreatedBy: t.CreatedBy}
}

// envSlugs is environments as the wire names them; nil stays nil (null), as before.
func envSlugs(envs []domain.Environment) []string {
	if envs == nil {
		return nil
	}
	out := make([]string, 0, len(envs))
	for _, e := range envs {
		out = append(out, string(e))
	}
	return out
}

func (s *Server) createServiceToken(c *fiber.Ctx) error {
	var req createServiceTokenRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	envs := make([]domain.Environment, 0, len(req.Environments))
	for _, raw := range req.Environments {
		env, err := domain.ParseEnvironment(raw)
		if err != nil {
			return &domain.Error{Code: domain.CodeValidation, Message: "environments: must be development, staging or production",
				Fields: []domain.FieldError{{Field: "environments", Message: "must be development, staging or production"}}}
		}
		envs = append(envs, env)
	}
	orgID := c.Params("org")
	res, err := s.cmd.CreateServiceToken.Handle(c.UserContext(), s.meta(c), commands.CreateServiceToken{
		OrgID: orgID, Name: req.Name, Environments: envs, ExpiresAt: req.ExpiresAt,
	})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res.Result)
	tokens, err := s.rm.Tokens.ListServiceTokens(c.UserContext(), orgID)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if t.ID == res.ID {
			out := serviceTokenOut(t)
			out.Token = res.Token
			return c.Status(fiber.StatusCreated).JSON(out)
		}
	}
	return c.Status(fiber.StatusCreated).JSON(wire.ServiceToken{ID: res.ID, Token: res.Token, Name: req.Name, Environments: envSlugs(envs), ExpiresAt: req.ExpiresAt})
}

func (s *Server) listServiceTokens(c *fiber.Ctx) error {
	org, err := s.manager(c)
	if err != nil {
		return err
	}
	tokens, err := s.rm.Tokens.ListServiceTokens(c.UserContext(), org.ID)
	if err != nil {
		return err
	}
	items := make([]wire.ServiceToken, 0, len(tokens))
	for _, t := range tokens {
		items = append(items, serviceTokenOut(t))
	}
	return c.JSON(wire.List[wire.ServiceToken]{Items: items})
}

func (s *Server) revokeServiceToken(c *fiber.Ctx) error {
	res, err := s.cmd.RevokeServiceToken.Handle(c.UserContext(), s.meta(c), commands.RevokeServiceToken{OrgID: c.Params("org"), TokenID: c.Params("id")})
	if ferr := s.forgetToken(c.UserContext(), c.Params("id")); ferr != nil {
		return ferr
	}
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	return c.SendStatus(fiber.StatusNoContent)
}

// bearerServiceToken returns the request's service token, if it carries one.
func bearerServiceToken(c *fiber.Ctx) (string, bool) {
	scheme, token, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || !commands.IsServiceToken(token) {
		return "", false
	}
	return token, true
}

// fetchValues answers GET /orgs/{org}/environments/{env}/values, for a service token
// scoped to env or a member who may reveal. It decrypts server-side and is audited as
// secrets.fetched; the response is never cached.
func (s *Server) fetchValues(c *fiber.Ctx) error {
	env, err := domain.ParseEnvironment(c.Params("env"))
	if err != nil {
		return errNotFound()
	}
	orgID := c.Params("org")
	m := s.meta(c)
	cmd := commands.FetchValues{OrgID: orgID, Env: env}
	if c.Locals(identityLocal{}) == nil {
		token, _ := bearerServiceToken(c)
		ti, err := s.authenticateToken(c.UserContext(), token, orgID)
		if err != nil {
			return s.tokenOfAnotherOrg(c, token, orgID, err)
		}
		cmd.Token = &ti
		m.Actor.TokenID = ti.TokenID
	}
	// A fetch holds a whole environment's values, sealed and open, and its answer: a
	// few at a time (two per core, since a fetch also waits for its audit record to be
	// durable) keep the server's memory bounded; the others wait their turn.
	select {
	case s.fetchSlots <- struct{}{}:
	case <-c.UserContext().Done():
		return c.UserContext().Err()
	}
	body, seq, err := s.fetchBody(c, m, cmd)
	<-s.fetchSlots
	if err != nil {
		return err
	}
	c.Set(headerSeq, strconv.FormatUint(seq, 10))
	s.waitFor(c, seq)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

// tokenOfAnotherOrg answers a service token that is not one of orgID's (err): 404 when
// it works in another organization, as for any caller who is not a member (API.md:
// 404, never a hint whether the organization exists), else err (401: unknown,
// revoked or expired). A working token answered 401 here, as if it were bad.
func (s *Server) tokenOfAnotherOrg(c *fiber.Ctx, token, orgID string, err error) error {
	if !domain.IsCode(err, domain.CodeUnauthenticated) {
		return err
	}
	if other, oerr := s.identifyServiceToken(c.UserContext(), token); oerr == nil && other.OrgID != orgID {
		return errNotFound()
	}
	return err
}

// fetchBody runs the fetch and encodes its answer.
func (s *Server) fetchBody(c *fiber.Ctx, m commands.Meta, cmd commands.FetchValues) ([]byte, uint64, error) {
	got, err := s.fetch.Handle(c.UserContext(), m, cmd)
	if err != nil {
		return nil, 0, s.refused(c, err)
	}
	return encodeValues(got), got.Seq, nil
}

// encodeValues writes wire.Values for a fetch, in one buffer and in the fetch's (name)
// order: as encoding/json would write the map, without building it. Its seq is the
// values' own (AsOf), not the audit record's.
func encodeValues(got commands.FetchedValues) []byte {
	size := 32
	for i, name := range got.Names {
		size += len(name) + len(got.Values.Reveal(i)) + 8
	}
	b := make([]byte, 0, size)
	b = append(b, `{"values":{`...)
	for i, name := range got.Names {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonappend.String(b, name)
		b = append(b, ':')
		b = jsonappend.String(b, got.Values.Reveal(i))
	}
	b = append(b, `},"seq":`...)
	b = strconv.AppendUint(b, got.AsOf, 10)
	return append(b, '}')
}

// serviceTokenOrUser lets a service token through to the routes that take one (the
// values fetch, GET /me), which check it themselves; anything else goes through the
// usual authentication.
func (s *Server) serviceTokenOrUser(c *fiber.Ctx) error {
	if _, ok := bearerServiceToken(c); ok {
		return c.Next()
	}
	return s.authenticate(c)
}
