package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// CreateWebhookRequest is the body of POST /orgs/{org}/webhooks. No environments means
// every environment.
type CreateWebhookRequest struct {
	URL          string   `json:"url"`
	Environments []string `json:"environments,omitempty"`
	Description  string   `json:"description,omitempty"`
}

// Webhook is a registered endpoint; SigningSecret is set only in CreateWebhook's answer.
type Webhook = wire.Webhook

// WebhookDelivery is one change notice on its way to one webhook.
type WebhookDelivery = wire.WebhookDelivery

// CreateWebhook registers an endpoint for the organization's change notices; the answer
// holds its signing secret (whsec_…), which is never shown again.
func (c *Client) CreateWebhook(ctx context.Context, org string, req CreateWebhookRequest, opts ...CallOption) (Webhook, error) {
	var out Webhook
	err := c.do(ctx, request{method: http.MethodPost, path: orgPath(org, "webhooks"), body: req, opts: opts}, &out)
	return out, err
}

// ListWebhooks lists an organization's webhooks (without their secrets).
func (c *Client) ListWebhooks(ctx context.Context, org string, opts ...CallOption) ([]Webhook, error) {
	var out wire.List[Webhook]
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "webhooks"), opts: opts}, &out)
	return out.Items, err
}

// DeleteWebhook removes a webhook; nothing more is sent to it.
func (c *Client) DeleteWebhook(ctx context.Context, org, id string, opts ...CallOption) error {
	return c.do(ctx, request{method: http.MethodDelete, path: orgPath(org, "webhooks", id), opts: opts}, nil)
}

// WebhookDeliveries lists a webhook's deliveries, newest event first; limit 0 takes
// the server's default (100).
func (c *Client) WebhookDeliveries(ctx context.Context, org, id string, limit int, opts ...CallOption) ([]WebhookDelivery, error) {
	var out wire.List[WebhookDelivery]
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "webhooks", id, "deliveries"), query: q, opts: opts}, &out)
	return out.Items, err
}

// RedeliverWebhook sends a delivery again: it is pending, due now, with a fresh retry
// window.
func (c *Client) RedeliverWebhook(ctx context.Context, org, id, delivery string, opts ...CallOption) (WebhookDelivery, error) {
	var out WebhookDelivery
	err := c.do(ctx, request{method: http.MethodPost, path: orgPath(org, "webhooks", id, "deliveries", delivery, "redeliver"), opts: opts}, &out)
	return out, err
}
