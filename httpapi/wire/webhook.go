package wire

import "time"

// Webhook is a registered endpoint for an organization's change notices. The signing
// secret is only in the answer to its creation (shown once).
type Webhook struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Environments filters the notices sent; empty means every environment, and the
	// changes that touch none (a description).
	Environments []string  `json:"environments"`
	Description  string    `json:"description"`
	CreatedAt    time.Time `json:"created_at"`
	// CreatedBy is the id of the user who created it.
	CreatedBy     string `json:"created_by"`
	SigningSecret string `json:"signing_secret,omitempty"`
}

// WebhookDelivery is one change notice on its way to one webhook.
type WebhookDelivery struct {
	ID string `json:"id"`
	// Seq is the event log sequence of the notice.
	Seq      uint64 `json:"seq"`
	SecretID string `json:"secret_id"`
	Env      string `json:"env"`
	// Status is pending (due at next_attempt_at), delivered (a 2xx came back) or failed
	// (retried for a day without success; redeliver to try again).
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
}
