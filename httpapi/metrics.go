package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/eventstore/storeerr"
	"github.com/keyledger/keyledger/projections"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// latencyBuckets are the histograms' upper bounds in seconds: fine below 25 ms, where
// the targets of a secrets server lie, coarse up to the 10 s that no request should
// come near.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .0075, .01, .015, .02, .03, .05, .075, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics are the process's Prometheus metrics, in a registry of their own (never
// the client library's global one). cmd/keyledger creates them first and hands them
// to the event store (ObserveAppend), the projector (as its BatchObserver) and the
// server (Config.Metrics); a server built without them makes its own. They count and
// time; they never carry a name, a path with ids, or a value.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	requestTime   *prometheus.HistogramVec
	commandTime   *prometheus.HistogramVec
	loginFailures prometheus.Counter
	reveals       prometheus.Counter
	appendTime    *prometheus.HistogramVec
	batchTime     prometheus.Histogram
	batchStarts   *prometheus.CounterVec
	eventsApplied prometheus.Counter
	delay         prometheus.Histogram

	// The projector's progress, for the lag in seconds: the record time of the
	// oldest event it holds uncommitted (zero when none) and of the newest it
	// committed.
	mu      sync.Mutex
	pending time.Time
	applied time.Time

	scraped scrapedDescs
}

// NewMetrics creates the metrics and their registry, with the Go runtime's and the
// process's collectors.
func NewMetrics() (*Metrics, error) {
	m := &Metrics{reg: prometheus.NewRegistry(), scraped: newScrapedDescs()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyledger_http_requests_total", Help: "HTTP requests answered, by status class.",
	}, []string{"class"})
	m.requestTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keyledger_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by method, route pattern (never the path with its ids) and status class.",
		Buckets: latencyBuckets,
	}, []string{"method", "route", "class"})
	m.commandTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "keyledger_command_seconds",
		Help: "Time in a command's route handler, by command and status class: decoding, the command " +
			"(load, decide, append) and the bounded wait until the read models show it; authentication excluded.",
		Buckets: latencyBuckets,
	}, []string{"command", "class"})
	m.loginFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "keyledger_login_failures_total", Help: "Logins refused for wrong credentials.",
	})
	m.reveals = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "keyledger_reveals_total", Help: "Values revealed through the API.",
	})
	m.appendTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "keyledger_append_seconds",
		Help: "Time from publishing an append until JetStream acknowledged it, which includes its fsync " +
			"(the embedded server's group sync after it) and, on a cluster, replication; by outcome (ok, conflict, error).",
		Buckets: latencyBuckets,
	}, []string{"outcome"})
	m.batchTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "keyledger_projection_batch_seconds",
		Help:    "Time of one projector batch's transaction, from begin to commit.",
		Buckets: latencyBuckets,
	})
	m.batchStarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyledger_projection_batches_total",
		Help: "Projector batches committed, by how they began: carried (on the checkpoint and audit chain heads " +
			"the batch before left, in the round trip of its writes), locked (under the locks, in a round trip of " +
			"their own) or refused (carried, found the read models moved by another projector, applied again under the locks).",
	}, []string{"start"})
	for _, start := range []projections.BatchStart{projections.StartCarried, projections.StartLocked, projections.StartRefused} {
		m.batchStarts.WithLabelValues(string(start))
	}
	m.eventsApplied = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "keyledger_projection_events_applied_total", Help: "Events this process's projector applied to the read models.",
	})
	m.delay = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "keyledger_projection_delay_seconds",
		Help: "Time from an event's record time (just before its append) until the read models committed it; " +
			"observed once per batch, for its oldest event.",
		Buckets: latencyBuckets,
	})
	for i := 1; i <= 5; i++ {
		// Every class is shown from the start, at 0, as the hand-written text did.
		m.requests.WithLabelValues(statusClass(i * 100))
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.requestTime, m.commandTime, m.loginFailures, m.reveals,
		m.appendTime, m.batchTime, m.batchStarts, m.eventsApplied, m.delay,
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// statusClass is "2xx" for 200 to 299, and so on.
func statusClass(status int) string { return strconv.Itoa(status/100) + "xx" }

// observeRequest counts and times one answered request. route is Fiber's pattern.
func (m *Metrics) observeRequest(method, route string, status int, took time.Duration) {
	if status < 100 || status > 599 {
		return
	}
	class := statusClass(status)
	m.requests.WithLabelValues(class).Inc()
	m.requestTime.WithLabelValues(method, route, class).Observe(took.Seconds())
}

// ObserveAppend is the event store's append observer (eventstore.AppendObserver).
func (m *Metrics) ObserveAppend(took time.Duration, err error) {
	outcome := "ok"
	switch {
	case errors.Is(err, storeerr.ErrVersionConflict):
		outcome = "conflict"
	case err != nil:
		outcome = "error"
	}
	m.appendTime.WithLabelValues(outcome).Observe(took.Seconds())
}

// BatchStarted implements projections.BatchObserver.
func (m *Metrics) BatchStarted(oldest time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = oldest
}

// BatchApplied implements projections.BatchObserver.
func (m *Metrics) BatchApplied(b projections.AppliedBatch) {
	now := time.Now()
	m.batchTime.Observe(b.Took.Seconds())
	m.batchStarts.WithLabelValues(string(b.Start)).Inc()
	m.eventsApplied.Add(float64(b.Events))
	if !b.Oldest.IsZero() {
		// Record times come from the appending replica's clock: a skewed one must not
		// make a delay negative.
		m.delay.Observe(max(now.Sub(b.Oldest), 0).Seconds())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = time.Time{}
	if b.Newest.After(m.applied) {
		m.applied = b.Newest
	}
}

// lagSeconds is the age of the oldest event the read models lack, while they lag:
// the oldest event the projector holds uncommitted, or, while it holds none (the
// next event is on its way to it, or it cannot read the log), the newest it
// committed, which is older still, so the figure never understates. false when this
// process's projector has reported nothing.
func (m *Metrics) lagSeconds(now time.Time) (float64, bool) {
	m.mu.Lock()
	since := m.pending
	if since.IsZero() {
		since = m.applied
	}
	m.mu.Unlock()
	if since.IsZero() {
		return 0, false
	}
	return max(now.Sub(since), 0).Seconds(), true
}

// command times a command's route handler under the command's name. It wraps the
// handler only, so that authentication, which every route shares, is not counted.
func (s *Server) command(name string, h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := h(c)
		s.metrics.commandTime.WithLabelValues(name, statusClass(answeredStatus(c, err, s.unavailable))).Observe(time.Since(start).Seconds())
		return err
	}
}

// answeredStatus is the status a request is answered with: the error's, when the
// handler failed (the error handler writes it later), else the response's.
func answeredStatus(c *fiber.Ctx, err error, unavailable func(error) bool) int {
	if err != nil {
		p, _ := toProblem(err, unavailable)
		return p.Status
	}
	return c.Response().StatusCode()
}

// serveMetrics writes the registry's metrics and, read at the moment of the scrape
// with the request's context, the projection's and the projector lease's state.
func (s *Server) serveMetrics(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readyTimeout)
	defer cancel()
	perScrape := prometheus.NewRegistry()
	if err := perScrape.Register(s.scrapeState(ctx)); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	families, err := prometheus.Gatherers{s.metrics.reg, perScrape}.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	var b bytes.Buffer
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	enc := expfmt.NewEncoder(&b, format)
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("encode metrics: %w", err)
		}
	}
	c.Set(fiber.HeaderContentType, string(format))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b.Bytes())
}

// scrapedDescs describe the metrics read at scrape time.
type scrapedDescs struct {
	stalled, stalledSeq, stalledAttempts             *prometheus.Desc
	leaseHeld, leaseHolder, leaseRevision, leaseAge  *prometheus.Desc
	streamLastSeq, checkpoint, lagEvents, lagSeconds *prometheus.Desc
}

func newScrapedDescs() scrapedDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return scrapedDescs{
		stalled:         d("keyledger_projection_stalled", "1 while this process's projector cannot advance (see its ERROR log), else 0."),
		stalledSeq:      d("keyledger_projection_stalled_seq", "The stream sequence the stalled projector cannot get past."),
		stalledAttempts: d("keyledger_projection_stalled_attempts", "Failed attempts in a row of the stalled projector."),
		leaseHeld:       d("keyledger_projector_lease_held", "1 while this replica holds the projector lease (and so projects), else 0."),
		leaseHolder:     d("keyledger_projector_lease_holder", "Always 1; the holder label names the replica that holds the projector lease, as last seen.", "holder"),
		leaseRevision:   d("keyledger_projector_lease_revision", "The projector lease's revision as last seen: the holder's fencing token grows with every holder."),
		leaseAge:        d("keyledger_projector_lease_age_seconds", "Seconds since this replica last saw the projector lease renewed."),
		streamLastSeq:   d("keyledger_stream_last_seq", "Last sequence of the event log."),
		checkpoint:      d("keyledger_projection_checkpoint", "Last sequence the read models reflect."),
		lagEvents:       d("keyledger_projection_lag", "Events in the log not yet in the read models."),
		lagSeconds: d("keyledger_projection_lag_seconds", "Age of the oldest event in the log not yet in the read models "+
			"(an upper bound while the projector holds none of them); 0 when they are up to date. Shown while behind only "+
			"by the replica that projects."),
	}
}

// scrape is the state read for one scrape, as const metrics. A fresh registry per
// scrape collects it, so that concurrent scrapes never share it and the reads use
// the request's context (a collector registered once would have none).
type scrape struct {
	descs   *scrapedDescs
	metrics []prometheus.Metric
}

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	d := s.descs
	for _, desc := range []*prometheus.Desc{d.stalled, d.stalledSeq, d.stalledAttempts, d.leaseHeld, d.leaseHolder,
		d.leaseRevision, d.leaseAge, d.streamLastSeq, d.checkpoint, d.lagEvents, d.lagSeconds} {
		ch <- desc
	}
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	for _, m := range s.metrics {
		ch <- m
	}
}

// gauge adds one gauge sample. A sample that cannot be made (a label count that does
// not match its description) becomes an invalid metric, which fails the gather
// with the reason instead of vanishing.
func (s *scrape) gauge(desc *prometheus.Desc, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(desc, err)
	}
	s.metrics = append(s.metrics, m)
}

// scrapeState reads the projector's stall and lease and how far the read models lag
// behind the log.
func (s *Server) scrapeState(ctx context.Context) *scrape {
	out := &scrape{descs: &s.metrics.scraped}
	d := out.descs
	if st, stalled := s.projectionStall(); stalled {
		out.gauge(d.stalled, 1)
		out.gauge(d.stalledSeq, float64(st.Seq))
		out.gauge(d.stalledAttempts, float64(st.Attempts))
	} else {
		out.gauge(d.stalled, 0)
	}
	lease, leased := s.projectorLease()
	if leased {
		s.leaseMetrics(out, lease)
	}
	head, herr := s.store.LastSeq(ctx)
	cp, cerr := s.rm.Progress.Checkpoint(ctx)
	if herr == nil {
		out.gauge(d.streamLastSeq, float64(head))
	}
	if cerr == nil {
		out.gauge(d.checkpoint, float64(cp))
	}
	if herr != nil || cerr != nil {
		return out
	}
	if head <= cp {
		out.gauge(d.lagEvents, 0)
		out.gauge(d.lagSeconds, 0)
		return out
	}
	out.gauge(d.lagEvents, float64(head-cp))
	// A standby's projector reports nothing current: what it last saw would age
	// without meaning anything.
	if leased && !lease.Held {
		return out
	}
	if secs, ok := s.metrics.lagSeconds(time.Now()); ok {
		out.gauge(d.lagSeconds, secs)
	}
	return out
}

// projectorLeaseReporter is what /metrics and /readyz ask of a read model whose
// projector runs under a lease in this process (projections.Progress does when serve wires
// a lease); without it nothing about the lease is shown.
type projectorLeaseReporter interface {
	ProjectorLease() (projections.LeaseStatus, bool)
}

func (s *Server) projectorLease() (projections.LeaseStatus, bool) {
	r, ok := s.rm.Progress.(projectorLeaseReporter)
	if !ok {
		return projections.LeaseStatus{}, false
	}
	return r.ProjectorLease()
}

// leaseMetrics shows who projects and how fresh the lease is. The age is what a
// failover alert wants: it grows past the lease's TTL only when the holder stopped
// renewing and no standby has taken over.
func (s *Server) leaseMetrics(out *scrape, l projections.LeaseStatus) {
	d := out.descs
	held := 0.0
	if l.Held {
		held = 1
	}
	out.gauge(d.leaseHeld, held)
	if l.Holder == "" {
		return // nobody holds it as last seen: no holder and no age to tell
	}
	// The holder comes from NATS, where any client may have written it: the library
	// escapes it, but refuses a label that is not UTF-8, so that is replaced.
	out.gauge(d.leaseHolder, 1, strings.ToValidUTF8(l.Holder, "\uFFFD"))
	out.gauge(d.leaseRevision, float64(l.Revision))
	// Milliseconds, as the hand-written text printed: finer is noise, and a tiny
	// float would print in exponent form.
	out.gauge(d.leaseAge, math.Round(time.Since(l.RenewedAt).Seconds()*1000)/1000)
}
