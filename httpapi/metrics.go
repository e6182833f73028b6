package httpapi

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
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
