package domain

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AggregateWebhook is the aggregate kind of an organization's webhooks.
const AggregateWebhook = "webhook"

// Audit actions of webhooks.
const (
	AuditWebhookCreated = "webhook.created"
	AuditWebhookDeleted = "webhook.deleted"
)

// Limits of a webhook's text.
const (
	maxWebhookURL         = 2048
	maxWebhookDescription = 500
)

// WebhookCreated registers an endpoint that receives the organization's change
// notices. The whole payload, URL and signing secret included, is sealed in the log
// with the organization's data key: a URL may carry a credential, and the signing
// secret is what receivers trust.
type WebhookCreated struct {
	URL string `json:"url"`
	// Environments filters the notices sent (empty: every environment, and the
	// changes that touch no value, such as a description).
	Environments  []Environment `json:"environments,omitempty"`
	Description   string        `json:"description,omitempty"`
	SigningSecret string        `json:"signing_secret"`
}

// WebhookDeleted removes a webhook: nothing more is sent to it.
type WebhookDeleted struct{}

// EventType implementations.
func (WebhookCreated) EventType() string { return "WebhookCreated" }
func (WebhookDeleted) EventType() string { return "WebhookDeleted" }

// ParseWebhookURL trims and checks a webhook's endpoint: an absolute http or https
// URL with a host, on one line, at most 2048 characters. Whether its address may be
// reached is a question of the network, answered where the network is (the API and
// the delivery engine), not here.
func ParseWebhookURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", Invalid("url", "is required")
	}
	if err := ValidateText("url", s, SingleLine); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(s) > maxWebhookURL {
		return "", Invalid("url", "must be at most 2048 characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(err.Error(), "invalid port") {
			return "", Invalid("url", webhookPortRule)
		}
		return "", Invalid("url", "must be an absolute http or https URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", Invalid("url", "must use https or http")
	}
	if u.Hostname() == "" || u.Opaque != "" {
		return "", Invalid("url", "must name a host")
	}
	if !validWebhookPort(u.Port()) {
		return "", Invalid("url", webhookPortRule)
	}
	return u.String(), nil
}

// webhookPortRule is the message of a refused webhook port.
const webhookPortRule = "must have a port from 1 to 65535"

// validWebhookPort reports whether a URL's port (u.Port(): digits, or "" when the
// URL names none and the scheme's default applies) is one a delivery can dial: a
// number from 1 to 65535. Port 0 and anything larger than 65535 would make every
// delivery fail ("invalid port"), so they are refused when the webhook is made.
func validWebhookPort(port string) bool {
	if port == "" {
		return true
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n >= 1
}

// ParseWebhookDescription trims and checks a webhook's description.
func ParseWebhookDescription(raw string) (string, error) {
	d := strings.TrimSpace(raw)
	if err := ValidateText("description", d, MultiLine); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(d) > maxWebhookDescription {
		return "", Invalid("description", "must be at most 500 characters")
	}
	return d, nil
}

// CreateWebhook decides registering a webhook; only owners and admins manage them.
// The signing secret is made by the caller (the domain takes no randomness).
func CreateWebhook(p Principal, rawURL string, envs []Environment, description, signingSecret string) (Event, error) {
	if err := Authorize(p, ActionManage, Target{}); err != nil {
		return nil, err
	}
	u, err := ParseWebhookURL(rawURL)
	if err != nil {
		return nil, err
	}
	d, err := ParseWebhookDescription(description)
	if err != nil {
		return nil, err
	}
	uniq := []Environment{}
	for _, e := range envs {
		if _, err := ParseEnvironment(string(e)); err != nil {
			return nil, Invalid("environments", "must name only development, staging or production")
		}
	}
	for _, e := range Environments() {
		if slices.Contains(envs, e) {
			uniq = append(uniq, e)
		}
	}
	return WebhookCreated{URL: u, Environments: uniq, Description: d, SigningSecret: signingSecret}, nil
}

// Webhook is the aggregate of one webhook.
type Webhook struct {
	id, orgID     string
	url           string
	environments  []Environment
	description   string
	signingSecret string
	createdSeq    uint64
	deletedSeq    uint64
	exists        bool
	deleted       bool
}

// NewWebhook returns an empty webhook aggregate.
func NewWebhook(orgID, id string) *Webhook { return &Webhook{orgID: orgID, id: id} }

// Getters.
func (w *Webhook) ID() string                  { return w.id }
func (w *Webhook) OrgID() string               { return w.orgID }
func (w *Webhook) URL() string                 { return w.url }
func (w *Webhook) Environments() []Environment { return w.environments }
func (w *Webhook) Description() string         { return w.description }
func (w *Webhook) SigningSecret() string       { return w.signingSecret }

// CreatedSeq is the log sequence of the webhook's creation: it receives the notices of
// later events.
func (w *Webhook) CreatedSeq() uint64 { return w.createdSeq }

// Receives reports whether the notices of the event at seq go to this webhook (if
// their environment matches): those of events after its creation and before its
// removal.
func (w *Webhook) Receives(seq uint64) bool {
	return w.exists && seq > w.createdSeq && (!w.deleted || seq < w.deletedSeq)
}

// DeletedSeq is the log sequence of the webhook's removal; 0 while it is active.
func (w *Webhook) DeletedSeq() uint64 { return w.deletedSeq }

// Active reports whether the webhook exists and was not deleted.
func (w *Webhook) Active() bool { return w.exists && !w.deleted }

// Matches reports whether a notice about env goes to this webhook. A notice that
// touches no environment (env "") goes only to webhooks without a filter.
func (w *Webhook) Matches(env string) bool {
	if len(w.environments) == 0 {
		return true
	}
	return slices.Contains(w.environments, Environment(env))
}

// Delete decides removing the webhook.
func (w *Webhook) Delete(p Principal) (Event, error) {
	if err := Authorize(p, ActionManage, Target{}); err != nil {
		return nil, err
	}
	if !w.Active() {
		return nil, Errorf(CodeNotFound, "The webhook was not found.")
	}
	return WebhookDeleted{}, nil
}

// Apply changes the webhook's state by one recorded event.
func (w *Webhook) Apply(r Recorded) {
	switch e := r.Event.(type) {
	case WebhookCreated:
		w.exists, w.url, w.environments, w.description, w.signingSecret, w.createdSeq = true, e.URL, e.Environments, e.Description, e.SigningSecret, r.Seq
	case WebhookDeleted:
		w.deleted, w.deletedSeq = true, r.Seq
	}
}
