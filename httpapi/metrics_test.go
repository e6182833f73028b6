package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/projections"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeMetrics fetches /metrics over HTTP and parses it as Prometheus text, so that a
// malformed exposition fails here and not in a scraper.
func scrapeMetrics(tb testing.TB, c *apitest.Client) map[string]*dto.MetricFamily {
	tb.Helper()
	r := c.DoURL(tb, "GET", "/metrics", nil).Expect(tb, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		tb.Fatalf("Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		tb.Fatalf("parse /metrics: %v\n%s", err, r.Body)
	}
	return families
}

// series finds the series of family name whose labels include want; nil when none.
func series(families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f, ok := families[name]
	if !ok {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// histogramCount is how many observations a histogram series holds; -1 when the
// series is missing.
func histogramCount(tb testing.TB, families map[string]*dto.MetricFamily, name string, labels map[string]string) int {
	tb.Helper()
	if f, ok := families[name]; ok && f.GetType() != dto.MetricType_HISTOGRAM {
		tb.Fatalf("%s is a %s, not a histogram", name, f.GetType())
	}
	m := series(families, name, labels)
	if m == nil {
		return -1
	}
	return int(m.GetHistogram().GetSampleCount())
}

func gaugeValue(tb testing.TB, families map[string]*dto.MetricFamily, name string) float64 {
	tb.Helper()
	m := series(families, name, nil)
	if m == nil || families[name].GetType() != dto.MetricType_GAUGE {
		tb.Fatalf("no gauge %s", name)
	}
	return m.GetGauge().GetValue()
}

// observedProjector replaces apitest's projector with one that reports its batches to
// m, as serve wires it.
func observedProjector(tb testing.TB, env *apitest.Env, m *httpapi.Metrics) (stop func()) {
	tb.Helper()
	env.StopProjector()
	ctx, cancel := context.WithCancel(context.Background())
	changes, err := changefeed.Open(ctx, env.NATS.Store)
	if err != nil {
		cancel()
		tb.Fatalf("changes: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = projections.NewProjector(env.DB, env.NATS.Store, nil).PublishChanges(changes).ObserveBatches(m).Run(ctx)
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	tb.Cleanup(stop)
	return stop
}

// /metrics, scraped over HTTP after requests and commands, parses as Prometheus text
// and holds latency histograms labelled by route pattern and by command (never by a
// path with ids), the append and projector timings, the lag in events and seconds,
// the Go and process collectors, and every metric the hand-written text had.
func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	m, err := httpapi.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	// A short wait for the projection, so that a command answers soon while the
	// projector is stopped below.
	env := apitest.New(t, func(c *httpapi.Config) { c.Metrics = m; c.WaitTimeout = 300 * time.Millisecond })
	env.NATS.Store.ObserveAppends(m.ObserveAppend)
	stop := observedProjector(t, env, m)

	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "STRIPE_KEY", map[string]string{"production": "sk_live_metrics_value"})
	base := "/orgs/" + org.ID + "/secrets/" + s.ID
	alice.Do(t, "GET", base, nil).Expect(t, http.StatusOK)
	alice.Do(t, "PATCH", base, map[string]any{"values": map[string]any{"production": "sk_live_metrics_value2"}}).Expect(t, http.StatusOK)
	alice.Do(t, "POST", base+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK)
	alice.Do(t, "GET", "/orgs/"+org.ID+"/secrets/00000000-0000-4000-8000-000000000000", nil).Expect(t, http.StatusNotFound)
	// Refused by a middleware before any route's handler runs.
	alice.Do(t, "POST", "/orgs/"+org.ID+"/secrets", "x", "Content-Type", "text/plain").Expect(t, http.StatusUnsupportedMediaType)

	anon := env.Anonymous()
	families := scrapeMetrics(t, anon)

	for _, tc := range []struct {
		name   string
		labels map[string]string
	}{
		{"keyledger_http_request_duration_seconds", map[string]string{"method": "POST", "route": "/api/v1/orgs/:org/secrets", "class": "2xx"}},
		{"keyledger_http_request_duration_seconds", map[string]string{"method": "GET", "route": "/api/v1/orgs/:org/secrets/:secret", "class": "2xx"}},
		{"keyledger_http_request_duration_seconds", map[string]string{"method": "GET", "route": "/api/v1/orgs/:org/secrets/:secret", "class": "4xx"}},
		{"keyledger_http_request_duration_seconds", map[string]string{"method": "PATCH", "route": "/api/v1/orgs/:org/secrets/:secret", "class": "2xx"}},
		{"keyledger_http_request_duration_seconds", map[string]string{"method": "POST", "route": "/api/v1/auth/signup", "class": "2xx"}},
		{"keyledger_command_seconds", map[string]string{"command": "create_secret", "class": "2xx"}},
		{"keyledger_command_seconds", map[string]string{"command": "update_secret", "class": "2xx"}},
		{"keyledger_command_seconds", map[string]string{"command": "reveal_secret", "class": "2xx"}},
		{"keyledger_command_seconds", map[string]string{"command": "create_organization", "class": "2xx"}},
		{"keyledger_command_seconds", map[string]string{"command": "register_user", "class": "2xx"}},
		{"keyledger_append_seconds", map[string]string{"outcome": "ok"}},
		{"keyledger_projection_batch_seconds", nil},
		{"keyledger_projection_delay_seconds", nil},
	} {
		if n := histogramCount(t, families, tc.name, tc.labels); n < 1 {
			t.Errorf("%s%v: %d observations, want at least 1", tc.name, tc.labels, n)
		}
	}
	// Ids, names and values never make a label: a series per secret would grow
	// without bound, and a label is no place for a name.
	for name, f := range families {
		for _, mm := range f.GetMetric() {
			for _, l := range mm.GetLabel() {
				for _, bad := range []string{org.ID, s.ID, "00000000-0000", "STRIPE", "sk_live", "alice"} {
					if strings.Contains(l.GetValue(), bad) {
						t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
					}
				}
			}
		}
	}

	// The names the hand-written text had, with their types.
	for name, typ := range map[string]dto.MetricType{
		"keyledger_http_requests_total":             dto.MetricType_COUNTER,
		"keyledger_login_failures_total":            dto.MetricType_COUNTER,
		"keyledger_reveals_total":                   dto.MetricType_COUNTER,
		"keyledger_projection_stalled":              dto.MetricType_GAUGE,
		"keyledger_stream_last_seq":                 dto.MetricType_GAUGE,
		"keyledger_projection_checkpoint":           dto.MetricType_GAUGE,
		"keyledger_projection_lag":                  dto.MetricType_GAUGE,
		"keyledger_projection_lag_seconds":          dto.MetricType_GAUGE,
		"keyledger_projection_events_applied_total": dto.MetricType_COUNTER,
		"go_goroutines":                             dto.MetricType_GAUGE,
		"process_cpu_seconds_total":                 dto.MetricType_COUNTER,
	} {
		f, ok := families[name]
		if !ok || f.GetType() != typ {
			t.Errorf("%s missing or not a %s", name, typ)
		}
	}
	if c := series(families, "keyledger_http_requests_total", map[string]string{"class": "2xx"}); c == nil || c.GetCounter().GetValue() < 5 {
		t.Errorf("keyledger_http_requests_total{class=2xx} = %v", c)
	}
	if c := series(families, "keyledger_reveals_total", nil); c.GetCounter().GetValue() != 1 {
		t.Errorf("keyledger_reveals_total = %v, want 1", c.GetCounter().GetValue())
	}
	if v := gaugeValue(t, families, "keyledger_projection_stalled"); v != 0 {
		t.Errorf("keyledger_projection_stalled = %v", v)
	}
	// The commands' batches: the first under the locks, those after it on what it left.
	var batches float64
	for _, start := range []string{"carried", "locked", "refused"} {
		c := series(families, "keyledger_projection_batches_total", map[string]string{"start": start})
		if c == nil {
			t.Errorf("keyledger_projection_batches_total{start=%q} missing", start)
			continue
		}
		batches += c.GetCounter().GetValue()
	}
	locked := series(families, "keyledger_projection_batches_total", map[string]string{"start": "locked"})
	carried := series(families, "keyledger_projection_batches_total", map[string]string{"start": "carried"})
	if locked.GetCounter().GetValue() < 1 || carried.GetCounter().GetValue() < 1 {
		t.Errorf("keyledger_projection_batches_total: %v batches, %v under the locks and %v carried; want both",
			batches, locked.GetCounter().GetValue(), carried.GetCounter().GetValue())
	}
	if c := series(families, "keyledger_projection_events_applied_total", nil); c.GetCounter().GetValue() < 4 {
		t.Errorf("keyledger_projection_events_applied_total = %v, want at least the 4 commands' events", c.GetCounter().GetValue())
	}
	// Up to date: both lags 0, and the checkpoint is the log's head.
	if head, cp := gaugeValue(t, families, "keyledger_stream_last_seq"), gaugeValue(t, families, "keyledger_projection_checkpoint"); head != cp || head == 0 {
		t.Errorf("head %v, checkpoint %v", head, cp)
	}
	if lag, secs := gaugeValue(t, families, "keyledger_projection_lag"), gaugeValue(t, families, "keyledger_projection_lag_seconds"); lag != 0 || secs != 0 {
		t.Errorf("lag %v events, %v s while up to date", lag, secs)
	}

	// Behind: with the projector stopped, a command is in the log only, and the lag
	// shows in events and in seconds.
	stop()
	alice.Do(t, "PATCH", base, map[string]any{"description": "behind"}).Expect(t, http.StatusOK)
	families = scrapeMetrics(t, anon)
	if lag := gaugeValue(t, families, "keyledger_projection_lag"); lag < 1 {
		t.Errorf("lag %v events with the projector stopped", lag)
	}
	if secs := gaugeValue(t, families, "keyledger_projection_lag_seconds"); secs <= 0 {
		t.Errorf("lag %v s with the projector stopped", secs)
	}
}
