package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/keyledger/keyledger/projections/pgtest"
)

// leaseHeldHere asks a server's /readyz whether it holds the projector lease.
func leaseHeldHere(tb testing.TB, s *server) (held bool, holder string) {
	tb.Helper()
	resp, err := http.Get(s.baseURL + "/readyz")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		ProjectorLease *struct {
			Holder string `json:"holder"`
			Held   bool   `json:"held_here"`
		} `json:"projector_lease"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		tb.Fatal(err)
	}
	if r.ProjectorLease == nil {
		return false, ""
	}
	return r.ProjectorLease.Held, r.ProjectorLease.Holder
}

// TestFailoverAfterKillingTheLeaseHolder: two replicas on one external NATS and one
// Postgres; kill -9 of the one that projects, and the other projects within 3 s.
func TestFailoverAfterKillingTheLeaseHolder(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dbURL := pgtest.NewDatabase(t)
	natsURL := startExternalNATS(t)
	const email, password = "admin@example.com", "a long enough password"
	start := func() *server {
		return startServer(t, bin, cleanEnv(), "--nats-url", natsURL, "--master-key", testMasterKey, "--database-url", dbURL,
			"--data-dir", t.TempDir(), "--bootstrap-admin-email", email, "--bootstrap-admin-password", password)
	}
	first := start()
	second := start()

	// The first to start holds the lease; both say so on /readyz.
	deadline := time.Now().Add(10 * time.Second)
	for {
		h1, holder1 := leaseHeldHere(t, first)
		h2, holder2 := leaseHeldHere(t, second)
		if h1 != h2 && holder1 != "" && holder1 == holder2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas disagree on the lease: first %v %q, second %v %q", h1, holder1, h2, holder2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	holder, standby := first, second
	if held, _ := leaseHeldHere(t, second); held {
		holder, standby = second, first
	}

	var login struct{ Token string }
	standby.call(t, "POST", "/auth/login", "", map[string]string{"email": email, "password": password}, &login)
	standby.createOrg(t, login.Token, "Before the kill")

	holder.kill(t)
	killed := time.Now()
	seq := standby.createOrg(t, login.Token, "After the kill")
	db := openReadModels(t, dbURL)
	at, ok := waitCheckpoint(t, db.Progress, seq, 15*time.Second)
	if !ok {
		t.Fatalf("the read models never reached sequence %d after the holder's kill", seq)
	}
	took := at.Sub(killed)
	t.Logf("failover: kill -9 of the lease holder to the standby's projection of a command sent right after: %v",
		took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("standby projected %v after the holder's kill, want within 3s", took.Round(time.Millisecond))
	}
	if held, _ := leaseHeldHere(t, standby); !held {
		t.Error("the standby projects but its /readyz does not say it holds the lease")
	}
}
