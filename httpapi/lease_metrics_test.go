package httpapi_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/lease"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/projections"
)

// leaseReadiness is the projector lease in /readyz's body.
type leaseReadiness struct {
	ProjectorLease *struct {
		Holder string `json:"holder"`
		Held   bool   `json:"held_here"`
	} `json:"projector_lease"`
}

var leaseAge = regexp.MustCompile(`(?m)^keyledger_projector_lease_age_seconds ([0-9.]+)$`)

// waitMetrics polls /metrics until its body contains every one of lines.
func waitMetrics(tb testing.TB, c *apitest.Client, lines ...string) string {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := string(c.DoURL(tb, "GET", "/metrics", nil).Expect(tb, http.StatusOK).Body)
		missing := ""
		for _, l := range lines {
			if !strings.Contains(body, l+"\n") {
				missing = l
				break
			}
		}
		if missing == "" {
			return body
		}
		if time.Now().After(deadline) {
			tb.Fatalf("/metrics never showed %q:\n%s", missing, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// /metrics and /readyz say who holds the projector lease, whether this replica does,
// and how long ago it was last renewed, on the standby as on the holder; the stall
// metrics stay.
func TestMetricsAndReadinessShowTheProjectorLease(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	anon := env.Anonymous()
	ctx := context.Background()
	const ttl = 2 * time.Second

	body := string(anon.DoURL(t, "GET", "/metrics", nil).Expect(t, http.StatusOK).Body)
	if strings.Contains(body, "keyledger_projector_lease") {
		t.Fatalf("a projector without a lease reports one:\n%s", body)
	}

	// Another replica holds the lease; its name comes from NATS and must be escaped.
	const other = `other "replica" \ 1`
	otherLease := eventstoretest.HoldLease(t, env.NATS.Store, projections.CheckpointName, other, ttl, 300*time.Millisecond)

	env.StopProjector()
	here, err := lease.Open(ctx, env.NATS.Store, projections.CheckpointName, "replica-here", ttl)
	if err != nil {
		t.Fatal(err)
	}
	pctx, stopProjector := context.WithCancel(ctx)
	var projecting sync.WaitGroup
	projecting.Go(func() {
		_ = projections.NewProjector(env.DB, env.NATS.Store, nil).WithLease(here, 500*time.Millisecond, 100*time.Millisecond).Run(pctx)
	})
	t.Cleanup(func() { stopProjector(); projecting.Wait() })

	body = waitMetrics(t, anon,
		"keyledger_projector_lease_held 0",
		`keyledger_projector_lease_holder{holder="other \"replica\" \\ 1"} 1`,
		"keyledger_projection_stalled 0")
	m := leaseAge.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no lease age on the standby:\n%s", body)
	}
	if age, err := strconv.ParseFloat(m[1], 64); err != nil || age > ttl.Seconds() {
		t.Fatalf("standby's lease age %q (%v), want at most the TTL while the holder renews", m[1], err)
	}
	var ready leaseReadiness
	anon.DoURL(t, "GET", "/readyz", nil).Expect(t, http.StatusOK).JSON(t, &ready)
	if ready.ProjectorLease == nil || ready.ProjectorLease.Holder != other || ready.ProjectorLease.Held {
		t.Fatalf("readyz on the standby: %+v", ready.ProjectorLease)
	}

	// The other replica stops and releases: this one takes over and says so.
	otherLease.Release(t)
	body = waitMetrics(t, anon,
		"keyledger_projector_lease_held 1",
		`keyledger_projector_lease_holder{holder="replica-here"} 1`)
	if m := leaseAge.FindStringSubmatch(body); m == nil {
		t.Fatalf("no lease age on the holder:\n%s", body)
	}
	anon.DoURL(t, "GET", "/readyz", nil).Expect(t, http.StatusOK).JSON(t, &ready)
	if ready.ProjectorLease == nil || ready.ProjectorLease.Holder != "replica-here" || !ready.ProjectorLease.Held {
		t.Fatalf("readyz on the holder: %+v", ready.ProjectorLease)
	}
}
