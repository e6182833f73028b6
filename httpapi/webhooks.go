package httpapi

import (
	"context"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/webhooks"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// maxDeliveriesListed bounds a deliveries page (?limit=).
const (
	defaultDeliveriesListed = 100
	maxDeliveriesListed     = 500
)

type createWebhookRequest struct {
	URL          string   `json:"url"`
	Environments []string `json:"environments"`
	Description  string   `json:"description"`
}

func webhookOut(w projections.WebhookInfo) wire.Webhook {
	envs := envSlugs(w.Environments)
	if envs == nil {
		envs = []string{}
	}
	return wire.Webhook{ID: w.ID, URL: w.URL, Environments: envs, Description: w.Description, CreatedAt: w.CreatedAt.UTC(), CreatedBy: w.CreatedBy}
}

func deliveryOut(d webhooks.Delivery) wire.WebhookDelivery {
	out := wire.WebhookDelivery{ID: d.ID, Seq: d.Seq, SecretID: d.SecretID, Env: d.Env, Status: d.Status, Attempts: d.Attempts,
		NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt.UTC()}
	if d.LastStatusCode != 0 {
		out.LastStatusCode = &d.LastStatusCode
	}
	if d.LastError != "" {
		out.LastError = &d.LastError
	}
	return out
}

// checkWebhookURL refuses an endpoint on an address webhooks may not reach, as a
// validation error on url.
func (s *Server) checkWebhookURL(ctx context.Context, raw string) error {
	if err := s.hookGuard.CheckURL(ctx, raw); err != nil {
		msg := "must be on a public address (loopback, private and link-local addresses are refused unless the server allows them)"
		switch {
		case errors.Is(err, webhooks.ErrUnresolvable):
			msg = "must name a host that resolves to an address"
		case !errors.Is(err, webhooks.ErrForbiddenAddress):
			msg = "must be an absolute http or https URL"
		}
		return &domain.Error{Code: domain.CodeValidation, Message: "url: " + msg, Fields: []domain.FieldError{{Field: "url", Message: msg}}}
	}
	return nil
}

func (s *Server) createWebhook(c *fiber.Ctx) error {
	var req createWebhookRequest
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
	res, err := s.cmd.CreateWebhook.Handle(c.UserContext(), s.meta(c), commands.CreateWebhook{
		OrgID: c.Params("org"), URL: req.URL, Environments: envs, Description: req.Description, CheckURL: s.checkWebhookURL,
	})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res.Result)
	w := res.Webhook
	envOut := envSlugs(w.Environments())
	if envOut == nil {
		envOut = []string{}
	}
	out := wire.Webhook{ID: res.ID, URL: w.URL(), Environments: envOut, Description: w.Description(), CreatedBy: s.meta(c).UserID}
	if !res.Replayed {
		// A replay never hands out a credential a second time (API.md), as a service
		// token's does not: the signing secret is shown once, to the first answer.
		out.SigningSecret = w.SigningSecret()
	}
	if info, err := s.rm.Webhooks.GetWebhook(c.UserContext(), c.Params("org"), res.ID); err == nil {
		out.CreatedAt, out.CreatedBy = info.CreatedAt.UTC(), info.CreatedBy
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(out)
}

// webhookAccess is the organization's webhook named in the path, for an owner or admin.
func (s *Server) webhookAccess(c *fiber.Ctx) (projections.WebhookInfo, error) {
	org, err := s.manager(c)
	if err != nil {
		return projections.WebhookInfo{}, err
	}
	return s.rm.Webhooks.GetWebhook(c.UserContext(), org.ID, c.Params("id"))
}

func (s *Server) listWebhooks(c *fiber.Ctx) error {
	org, err := s.manager(c)
	if err != nil {
		return err
	}
	hooks, err := s.rm.Webhooks.ListWebhooks(c.UserContext(), org.ID)
	if err != nil {
		return err
	}
	items := make([]wire.Webhook, 0, len(hooks))
	for _, w := range hooks {
		items = append(items, webhookOut(w))
	}
	return c.JSON(wire.List[wire.Webhook]{Items: items})
}

func (s *Server) deleteWebhook(c *fiber.Ctx) error {
	res, err := s.cmd.DeleteWebhook.Handle(c.UserContext(), s.meta(c), commands.DeleteWebhook{OrgID: c.Params("org"), WebhookID: c.Params("id")})
	if err != nil {
		return s.refused(c, err)
	}
	s.settle(c, res)
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) listDeliveries(c *fiber.Ctx) error {
	limit := defaultDeliveriesListed
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxDeliveriesListed {
			return errInvalidRequest("limit must be a number from 1 to 500.")
		}
		limit = n
	}
	w, err := s.webhookAccess(c)
	if err != nil {
		return err
	}
	list, err := s.hooks.List(c.UserContext(), w.OrgID, w.ID, limit)
	if err != nil {
		return err
	}
	items := make([]wire.WebhookDelivery, 0, len(list))
	for _, d := range list {
		items = append(items, deliveryOut(d))
	}
	return c.JSON(wire.List[wire.WebhookDelivery]{Items: items})
}

func (s *Server) redeliverWebhook(c *fiber.Ctx) error {
	w, err := s.webhookAccess(c)
	if err != nil {
		return err
	}
	d, err := s.hooks.Redeliver(c.UserContext(), w.OrgID, w.ID, c.Params("delivery"), s.now())
	if errors.Is(err, webhooks.ErrNotFound) {
		return domain.Errorf(domain.CodeNotFound, "The delivery was not found.")
	}
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(deliveryOut(*d))
}
