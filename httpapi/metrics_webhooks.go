package httpapi

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// WebhookMetrics count the webhook engine's delivery attempts and show its backlog. They
// are registered on the process's metrics by Metrics.Webhooks, for the process that runs
// an engine; no label holds a webhook, a URL or an id.
type WebhookMetrics struct {
	attempts *prometheus.CounterVec
	pending  prometheus.Gauge
}

// Webhooks registers the webhook metrics on m and returns them; call it once.
func (m *Metrics) Webhooks() (*WebhookMetrics, error) {
	w := &WebhookMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyledger_webhook_attempts_total",
			Help: "Webhook delivery attempts, by outcome: delivered (2xx), retry (to be tried again), failed (retried for a day without success).",
		}, []string{"outcome"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyledger_webhook_pending",
			Help: "Webhook deliveries waiting to be sent or retried, as the replica that delivers sees them (0 on the others).",
		}),
	}
	for _, o := range []string{"delivered", "retry", "failed"} {
		w.attempts.WithLabelValues(o)
	}
	for _, c := range []prometheus.Collector{w.attempts, w.pending} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("register webhook metrics: %w", err)
		}
	}
	return w, nil
}

// WebhookAttempt counts one delivery attempt by its outcome.
func (w *WebhookMetrics) WebhookAttempt(outcome string) { w.attempts.WithLabelValues(outcome).Inc() }

// WebhookPending sets the number of deliveries waiting.
func (w *WebhookMetrics) WebhookPending(n int) { w.pending.Set(float64(n)) }
