package httpapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// maxQueryLength bounds the q parameter; no name is longer than 128 characters.
const maxQueryLength = 128

// secretFilter reads the list's query parameters; a bad one is invalid_request.
func secretFilter(c *fiber.Ctx) (projections.SecretFilter, *time.Time, error) {
	var f projections.SecretFilter
	env, _, err := queryEnv(c, false)
	if err != nil {
		return f, nil, err
	}
	f.Env = env
	f.Q = c.Query("q")
	if len(f.Q) > maxQueryLength {
		return f, nil, errInvalidRequest("q must be at most 128 characters.")
	}
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > projections.MaxLimit {
			return f, nil, errInvalidRequest("limit must be an integer from 1 to 1000.")
		}
		f.Limit = n
	}
	f.Cursor = c.Query("cursor")
	if raw := c.Query("as_of"); raw != "" {
		t, err := queryTime("as_of", raw)
		if err != nil {
			return f, nil, err
		}
		return f, &t, nil
	}
	return f, nil, nil
}

func (s *Server) listSecrets(c *fiber.Ctx) error {
	f, asOf, err := secretFilter(c)
	if err != nil {
		return err
	}
	if asOf == nil {
		return s.listCurrentSecrets(c, f)
	}
	org, p, err := s.orgAccess(c)
	if err != nil {
		return err
	}
	rows, next, err := projections.SecretsAsOf(c.UserContext(), s.store, org.ID, *asOf, f)
	if err != nil {
		return pageErr(err)
	}
	return sendJSON(c, func(b []byte) []byte { return appendSecretPage(b, rows, next, p, org.RevealPolicy) })
}

// listCurrentSecrets answers a page of the grid as it is now: the access and the
// page in one read, from the name index.
func (s *Server) listCurrentSecrets(c *fiber.Ctx, f projections.SecretFilter) error {
	id := identityOf(c)
	page, err := s.rm.Secrets.SecretPageAt(c.UserContext(), c.Params("org"), id.UserID, f)
	if err != nil {
		return err
	}
	// Checked in the order orgAccess checks them.
	p, err := viewer(id, page.Role)
	if err != nil {
		return err
	}
	if page.OrgErr != nil {
		return page.OrgErr
	}
	if page.FilterErr != nil {
		return pageErr(page.FilterErr)
	}
	err = sendJSON(c, func(b []byte) []byte {
		return appendGridPage(b, page.Rows, page.Next, p, page.Org.RevealPolicy)
	})
	// The answer is in the response's buffer: nothing reads the rows again.
	page.Release()
	return err
}

// pageErr is a page's error as the API answers it.
func pageErr(err error) error {
	if domain.IsCode(err, domain.CodeValidation) {
		// The read model names a bad cursor or limit: a query parameter, not a field.
		return errInvalidRequest("cursor is not one this server returned.")
	}
	return err
}

// answerSecret answers a secret command from its own result: the row the command left
// behind, with the caller's permissions, once the read models show it or the wait
// runs out. A recorded command is never answered from a read model that has not
// caught up (that would say "not found" about a secret that exists).
func (s *Server) answerSecret(c *fiber.Ctx, res commands.SecretResult) error {
	s.settle(c, res.Result)
	row := projections.SecretRowOf(res.Secret, res.Owner)
	// Written by hand as the grid's rows are (appendSecret: the same bytes as
	// encoding/json's, without its reflection).
	return sendJSON(c, func(b []byte) []byte { return appendSecret(b, row, res.Principal, res.RevealPolicy) })
}

// writeSecret answers with one row as the caller sees it.
func (s *Server) writeSecret(c *fiber.Ctx, secretID string) error {
	// The organization, the caller's role and the row in one read; checked in the
	// order orgAccess and GetSecret check them.
	id := identityOf(c)
	a, err := s.rm.Secrets.SecretAccess(c.UserContext(), c.Params("org"), id.UserID, secretID)
	if err != nil {
		return err
	}
	p, err := viewer(id, a.Role)
	if err != nil {
		return err
	}
	if a.OrgErr != nil {
		return a.OrgErr
	}
	if a.SecretErr != nil {
		return a.SecretErr
	}
	return sendJSON(c, func(b []byte) []byte {
		return appendGridRow(b, &a.Secret, &rowPermissions{p: p, policy: a.Org.RevealPolicy})
	})
}

func (s *Server) getSecret(c *fiber.Ctx) error {
	return s.writeSecret(c, c.Params("secret"))
}

type newSecretValues struct {
	Development *string `json:"development"`
	Staging     *string `json:"staging"`
	Production  *string `json:"production"`
}

type createSecretRequest struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Values      *newSecretValues `json:"values"`
}

func (v *newSecretValues) plaintexts() map[domain.Environment]domain.Plaintext {
	out := map[domain.Environment]domain.Plaintext{}
	if v == nil {
		return out
	}
	for env, p := range map[domain.Environment]*string{domain.Development: v.Development, domain.Staging: v.Staging, domain.Production: v.Production} {
		if p != nil {
			out[env] = domain.NewPlaintext(*p)
		}
	}
	return out
}

func (s *Server) createSecret(c *fiber.Ctx) error {
	var req createSecretRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	orgID := c.Params("org")
	res, err := s.cmd.CreateSecret.Handle(c.UserContext(), s.meta(c), commands.CreateSecret{
		OrgID: orgID, Name: req.Name, Description: req.Description, Values: req.Values.plaintexts(),
	})
	if err != nil {
		return s.refused(c, err)
	}
	c.Location("/api/v1/orgs/" + orgID + "/secrets/" + res.ID)
	c.Status(fiber.StatusCreated)
	return s.answerSecret(c, res)
}

type updateSecretRequest struct {
	Description     *string                    `json:"description"`
	Values          map[string]json.RawMessage `json:"values"`
	ExpectedVersion *int                       `json:"expected_version"`
}

// valueChanges reads PATCH values: a string sets, null removes, an absent environment
// stays as it is.
func valueChanges(raw map[string]json.RawMessage) (map[domain.Environment]*domain.Plaintext, error) {
	out := map[domain.Environment]*domain.Plaintext{}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env, err := domain.ParseEnvironment(k)
		if err != nil {
			return nil, errInvalidRequest(fmt.Sprintf("Unknown field %s.", quoteField("values."+k)))
		}
		if string(raw[k]) == "null" {
			out[env] = nil
			continue
		}
		var v string
		if err := json.Unmarshal(raw[k], &v); err != nil {
			return nil, errInvalidRequest(fmt.Sprintf("Field %s must be a string or null.", quoteField("values."+k)))
		}
		p := domain.NewPlaintext(v)
		out[env] = &p
	}
	return out, nil
}

func (s *Server) updateSecret(c *fiber.Ctx) error {
	var req updateSecretRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	values, err := valueChanges(req.Values)
	if err != nil {
		return err
	}
	secretID := c.Params("secret")
	res, err := s.update.Handle(c.UserContext(), s.meta(c), commands.UpdateSecret{
		OrgID: c.Params("org"), SecretID: secretID, Description: req.Description, Values: values, ExpectedVersion: req.ExpectedVersion,
	})
	if err != nil {
		return s.refused(c, err)
	}
	return s.answerSecret(c, res)
}

func (s *Server) deleteSecret(c *fiber.Ctx) error {
	cmd := commands.DeleteSecret{OrgID: c.Params("org"), SecretID: c.Params("secret")}
	// An env given empty is refused, not read as no env at all: ?env= deleted the whole
	// secret where its sender meant one environment's value (the UI never sends one).
	env, given, err := queryEnv(c, true)
	if err != nil {
		return err
	}
	if given {
		cmd.Env = &env
	}
	res, err := s.deleteSecrets.Handle(c.UserContext(), s.meta(c), cmd)
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	return c.SendStatus(fiber.StatusNoContent)
}

type revealRequest struct {
	Env string `json:"env"`
}

// hideAfterSeconds tells the UI when to mask a revealed value again.
const hideAfterSeconds = 30

// revealSecret is the one handler whose response holds a value. It is audited by the
// command (allowed or denied), never cached by the idempotency store, and marked
// no-store for every cache on the way.
func (s *Server) revealSecret(c *fiber.Ctx) error {
	var req revealRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	env, err := domain.ParseEnvironment(req.Env)
	if err != nil {
		return err
	}
	rev, err := s.reveal.Handle(c.UserContext(), s.meta(c), commands.RevealSecret{
		OrgID: c.Params("org"), SecretID: c.Params("secret"), Env: env,
	})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, commands.Result{Seq: rev.Seq})
	s.metrics.reveals.Add(1)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderPragma, "no-cache")
	return c.JSON(wire.Revealed{Value: rev.Value.Reveal(), Env: string(env), Version: rev.Version, HideAfterSeconds: hideAfterSeconds})
}

type rollbackRequest struct {
	Env     string `json:"env"`
	Version int    `json:"version"`
}

func (s *Server) rollbackSecret(c *fiber.Ctx) error {
	var req rollbackRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	env, err := domain.ParseEnvironment(req.Env)
	if err != nil {
		return err
	}
	if req.Version < 1 {
		return domain.Invalid("version", "must be a version number (1 or more)")
	}
	secretID := c.Params("secret")
	res, err := s.cmd.RollbackSecret.Handle(c.UserContext(), s.meta(c), commands.RollbackSecret{
		OrgID: c.Params("org"), SecretID: secretID, Env: env, Version: req.Version,
	})
	if err != nil {
		return s.refused(c, err)
	}
	return s.answerSecret(c, res)
}

func (s *Server) listVersions(c *fiber.Ctx) error {
	env, _, err := queryEnv(c, false)
	if err != nil {
		return err
	}
	org, _, err := s.orgAccess(c)
	if err != nil {
		return err
	}
	// The history answers as the secret's GET does: an id GET does not know (an
	// upper-case spelling, another organization's) and a deleted secret are 404 here
	// too. The read model keeps a deleted secret's history; the API does not show it.
	a, err := s.rm.Secrets.SecretAccess(c.UserContext(), org.ID, "", c.Params("secret"))
	if err != nil {
		return err
	}
	if a.SecretErr != nil {
		return a.SecretErr
	}
	vs, err := s.rm.Secrets.ListVersions(c.UserContext(), org.ID, c.Params("secret"), env)
	if err != nil {
		return err
	}
	out := make([]wire.SecretVersion, 0, len(vs))
	for _, v := range vs {
		out = append(out, wire.SecretVersion{Env: string(v.Env), Version: v.Version, Action: v.Action,
			Actor: wire.Actor{ID: v.ActorID, Email: v.ActorEmail}, At: v.At.UTC(), Mask: v.Mask})
	}
	return c.JSON(wire.List[wire.SecretVersion]{Items: out})
}
