package httpapi

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/keyledger/keyledger/projections"
)

// readyTimeout bounds each dependency check of /readyz.
const readyTimeout = 2 * time.Second

// healthz says the process is alive; it checks nothing else.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readiness is /readyz's body.
type readiness struct {
	Status        string  `json:"status"`
	NATS          string  `json:"nats"`
	Postgres      string  `json:"postgres"`
	StreamSeq     *uint64 `json:"stream_seq,omitempty"`
	Checkpoint    *uint64 `json:"checkpoint,omitempty"`
	ProjectionLag *uint64 `json:"projection_lag,omitempty"`
	// Projection is "ok", or "stalled" while this process's projector cannot
	// advance; StalledSeq then names the sequence it is stuck on (the reason is in
	// the logs, not in this public body).
	Projection string  `json:"projection"`
	StalledSeq *uint64 `json:"stalled_seq,omitempty"`
	// ProjectorLease says which replica projects, when this process runs a leased
	// projector: operators ask any replica behind the load balancer and learn which
	// one to look at. It does not affect Status: a standby is as ready as the holder.
	ProjectorLease *leaseReadiness `json:"projector_lease,omitempty"`
}

// leaseReadiness is the projector lease as /readyz shows it. Holder is "" while nobody
// holds it (between a holder's end and the next one's start).
type leaseReadiness struct {
	Holder string `json:"holder"`
	Held   bool   `json:"held_here"`
}

// projectionHealth is what /readyz and /metrics ask of a read model that runs a
// projector in this process (projections.Progress does); a read model without it is
// never reported stalled.
type projectionHealth interface {
	ProjectionStall() (projections.Stall, bool)
}

// projectionStall reports whether the read models' projector in this process is
// stalled.
func (s *Server) projectionStall() (projections.Stall, bool) {
	h, ok := s.rm.Progress.(projectionHealth)
	if !ok {
		return projections.Stall{}, false
	}
	return h.ProjectionStall()
}

// readyz answers 200 when NATS and Postgres answer and the projection is not stalled,
// with how far the projection lags behind the log; 503 otherwise. A stalled projection
// answers every command late and every read stale, so the replica is not ready.
// Errors are not detailed: the body is public.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), readyTimeout)
	defer cancel()
	r := readiness{Status: "ready", NATS: "ok", Postgres: "ok", Projection: "ok"}
	if st, stalled := s.projectionStall(); stalled {
		r.Projection, r.Status, r.StalledSeq = "stalled", "unavailable", &st.Seq
	}
	if l, ok := s.projectorLease(); ok {
		r.ProjectorLease = &leaseReadiness{Holder: l.Holder, Held: l.Held}
	}
	head, err := s.store.LastSeq(ctx)
	if err != nil {
		s.log.Warn("readyz: nats", "err", err)
		r.NATS, r.Status = "unavailable", "unavailable"
	} else {
		r.StreamSeq = &head
	}
	cp, err := s.rm.Progress.Checkpoint(ctx)
	if err == nil {
		err = s.rm.Health.Ping(ctx)
	}
	if err != nil {
		s.log.Warn("readyz: postgres", "err", err)
		r.Postgres, r.Status = "unavailable", "unavailable"
	} else {
		r.Checkpoint = &cp
	}
	if r.StreamSeq != nil && r.Checkpoint != nil {
		lag := uint64(0)
		if head > cp {
			lag = head - cp
		}
		r.ProjectionLag = &lag
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if r.Status != "ready" {
		c.Status(fiber.StatusServiceUnavailable)
	}
	return c.JSON(r)
}
