package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

// While NATS is down, a command and a read answer 503 unavailable with Retry-After
// (not 500: the server is not broken, the log is away), and /readyz says NATS is
// unavailable; once NATS is back, both work again (issue 9, item 4).
func TestLogUnavailableAnswers503(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	owner := env.SignUp(t, "owner@example.com", "Owner")
	org := owner.CreateOrg(t, "Acme")
	anon := env.Anonymous()

	// The projector is out of this test's scope: it is stopped with NATS and started
	// again after, so that it cannot make the answers after the outage wait.
	env.StopProjector()
	env.NATS.StopNATS(t)

	unavailable := func(name string, r *apitest.Response) {
		t.Helper()
		r.Problem(t, http.StatusServiceUnavailable, "unavailable")
		if r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: 503 without Retry-After", name)
		}
	}
	unavailable("command", owner.Do(t, "POST", "/orgs/"+org.ID+"/secrets", map[string]any{"name": "DATABASE_URL"}))
	unavailable("read", owner.Do(t, "GET", "/orgs/"+org.ID+"/secrets", nil))
	var ready struct {
		Status string `json:"status"`
		NATS   string `json:"nats"`
	}
	anon.DoURL(t, "GET", "/readyz", nil).Expect(t, http.StatusServiceUnavailable).JSON(t, &ready)
	if ready.Status != "unavailable" || ready.NATS != "unavailable" {
		t.Fatalf("readyz with NATS down: %+v", ready)
	}

	env.NATS.StartNATS(t)
	deadline := time.Now().Add(30 * time.Second)
	for anon.DoURL(t, "GET", "/readyz", nil).Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("not ready 30 s after NATS came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	env.StartProjector(t)
	owner.CreateSecret(t, org.ID, "DATABASE_URL", map[string]string{"production": "postgres://db"})
	owner.Do(t, "GET", "/orgs/"+org.ID+"/secrets", nil).Expect(t, http.StatusOK)
}
