// Package webhooks delivers an organization's change notices to the endpoints its
// owners and admins registered: signed POSTs (Keyledger-Signature, HMAC-SHA256),
// at least once, in order per (webhook, secret), retried with exponential backoff for
// at least 24 hours, and resumed after a restart.
//
// It owns the delivery engine (Engine: one replica at a time, under a lease in NATS
// KV), the delivery state (Store: two JetStream KV buckets, KEYLEDGER_WEBHOOK_DELIVERIES
// with each delivery sealed with its organization's data key, and
// KEYLEDGER_WEBHOOK_CURSORS with how far each webhook's feed was read), the signature
// (Sign), and the address guard (Guard) that keeps webhooks off loopback, private,
// link-local and other internal addresses, at registration and again at every
// connection (a dialer Control hook, so a DNS answer that changes in between cannot
// reach inside).
//
// It reads the change feed, the log and the webhook roster through small interfaces
// declared where they are used. It must not import httpapi (which imports it), and
// nothing it stores in NATS is readable without the organization's data key.
package webhooks
