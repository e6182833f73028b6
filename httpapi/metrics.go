package httpapi

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/eventstore"
)

// metrics are the server's counters, exposed at /metrics in the Prometheus text
// format. They count; they never carry a name, a path with ids, or a value.
type metrics struct {
	byClass       [6]atomic.Uint64 // index: status / 100
	loginFailures atomic.Uint64
	reveals       atomic.Uint64
}

func (m *metrics) observe(status int) {
	if i := status / 100; i >= 1 && i <= 5 {
		m.byClass[i].Add(1)
	}
}

// serveMetrics writes the counters and how far the read models lag behind the log.
func (s *Server) serveMetrics(c *fiber.Ctx) error {
	var b strings.Builder
	metric := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric("keyledger_http_requests_total", "counter", "HTTP requests answered, by status class.")
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&b, "keyledger_http_requests_total{class=\"%dxx\"} %d\n", i, s.metrics.byClass[i].Load())
	}
	metric("keyledger_login_failures_total", "counter", "Logins refused for wrong credentials.")
	fmt.Fprintf(&b, "keyledger_login_failures_total %d\n", s.metrics.loginFailures.Load())
	metric("keyledger_reveals_total", "counter", "Values revealed through the API.")
	fmt.Fprintf(&b, "keyledger_reveals_total %d\n", s.metrics.reveals.Load())

	st, stalled := s.projectionStall()
	metric("keyledger_projection_stalled", "gauge", "1 while this process's projector cannot advance (see its ERROR log), else 0.")
	if stalled {
		fmt.Fprintf(&b, "keyledger_projection_stalled 1\n")
		metric("keyledger_projection_stalled_seq", "gauge", "The stream sequence the stalled projector cannot get past.")
		fmt.Fprintf(&b, "keyledger_projection_stalled_seq %d\n", st.Seq)
		metric("keyledger_projection_stalled_attempts", "gauge", "Failed attempts in a row of the stalled projector.")
		fmt.Fprintf(&b, "keyledger_projection_stalled_attempts %d\n", st.Attempts)
	} else {
		fmt.Fprintf(&b, "keyledger_projection_stalled 0\n")
	}

	if l, ok := s.projectorLease(); ok {
		writeLeaseMetrics(&b, metric, l)
	}

	ctx, cancel := context.WithTimeout(c.UserContext(), readyTimeout)
	defer cancel()
	head, herr := s.store.LastSeq(ctx)
	cp, cerr := s.rm.Checkpoint(ctx)
	if herr == nil {
		metric("keyledger_stream_last_seq", "gauge", "Last sequence of the event log.")
		fmt.Fprintf(&b, "keyledger_stream_last_seq %d\n", head)
	}
	if cerr == nil {
		metric("keyledger_projection_checkpoint", "gauge", "Last sequence the read models reflect.")
		fmt.Fprintf(&b, "keyledger_projection_checkpoint %d\n", cp)
	}
	if herr == nil && cerr == nil {
		lag := uint64(0)
		if head > cp {
			lag = head - cp
		}
		metric("keyledger_projection_lag", "gauge", "Events in the log not yet in the read models.")
		fmt.Fprintf(&b, "keyledger_projection_lag %d\n", lag)
	}
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendString(b.String())
}

// projectorLeaseReporter is what /metrics and /readyz ask of a read model whose
// projector runs under a lease in this process (projections.DB does when serve wires
// a lease); without it nothing about the lease is shown.
type projectorLeaseReporter interface {
	ProjectorLease() (eventstore.LeaseStatus, bool)
}

func (s *Server) projectorLease() (eventstore.LeaseStatus, bool) {
	r, ok := s.rm.(projectorLeaseReporter)
	if !ok {
		return eventstore.LeaseStatus{}, false
	}
	return r.ProjectorLease()
}

// writeLeaseMetrics shows who projects and how fresh the lease is. The age is what a
// failover alert wants: it grows past the lease's TTL only when the holder stopped
// renewing and no standby has taken over.
func writeLeaseMetrics(b *strings.Builder, metric func(name, typ, help string), l eventstore.LeaseStatus) {
	metric("keyledger_projector_lease_held", "gauge", "1 while this replica holds the projector lease (and so projects), else 0.")
	held := 0
	if l.Held {
		held = 1
	}
	fmt.Fprintf(b, "keyledger_projector_lease_held %d\n", held)
	if l.Holder == "" {
		return // nobody holds it as last seen: no holder and no age to tell
	}
	metric("keyledger_projector_lease_holder", "gauge", "Always 1; the holder label names the replica that holds the projector lease, as last seen.")
	fmt.Fprintf(b, "keyledger_projector_lease_holder{holder=\"%s\"} 1\n", escapeLabel(l.Holder))
	metric("keyledger_projector_lease_revision", "gauge", "The projector lease's revision as last seen: the holder's fencing token grows with every holder.")
	fmt.Fprintf(b, "keyledger_projector_lease_revision %d\n", l.Revision)
	metric("keyledger_projector_lease_age_seconds", "gauge", "Seconds since this replica last saw the projector lease renewed.")
	fmt.Fprintf(b, "keyledger_projector_lease_age_seconds %.3f\n", time.Since(l.RenewedAt).Seconds())
}

// escapeLabel escapes a label value for the Prometheus text format. The holder comes
// from NATS, where any client may have written it, so it is escaped, not trusted.
func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}
