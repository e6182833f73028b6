package webhooks_test

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
)

// A receiver that fails three times, then succeeds, gets the same delivery four times;
// the next change of the same secret waits behind it, and the deliveries list shows
// the attempts.
func TestFailingReceiverGetsRetriesInOrderThenDelivered(t *testing.T) {
	t.Parallel()
	metrics, err := httpapi.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	hookMetrics, err := metrics.Webhooks()
	if err != nil {
		t.Fatal(err)
	}
	env := apitest.New(t, func(c *httpapi.Config) { c.WebhookAllowPrivate, c.Metrics = true, metrics })
	env.StartWebhooks(t, 0, hookMetrics)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	var mu sync.Mutex
	var firstSeen string
	rc := newReceiver(t, func(r received, n int) int {
		mu.Lock()
		defer mu.Unlock()
		if firstSeen == "" {
			firstSeen = r.delivery
		}
		if r.delivery == firstSeen && n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	hook := createWebhook(t, alice, org.ID, rc.URL)
	s := alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "v1"})
	// While the first notice fails, the list shows it pending, with why.
	var pending delivery
	deadline := time.Now().Add(time.Minute)
	for {
		ds := deliveries(t, alice, org.ID, hook.ID)
		if len(ds) == 1 && ds[0].Attempts >= 1 && ds[0].Status == "pending" {
			pending = ds[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pending, attempted delivery: %+v", ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	firstDelivery := firstSeen
	mu.Unlock()
	if pending.ID != firstDelivery || pending.LastStatusCode == nil || *pending.LastStatusCode != 503 || pending.LastError == nil || *pending.LastError != "HTTP 503" || pending.NextAttemptAt == nil {
		t.Fatalf("pending delivery %+v", pending)
	}
	alice.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+s.ID, map[string]any{"values": map[string]string{"production": "v2"}}).Expect(t, http.StatusOK)

	got := rc.waitFor(t, "4 attempts and the second notice", func(g []received) bool { return len(g) >= 5 })
	for i := range 4 {
		if got[i].delivery != firstDelivery {
			t.Fatalf("request %d is delivery %s, want the first one's retries before anything else of the secret", i, got[i].delivery)
		}
		if string(got[i].body) != string(got[0].body) {
			t.Fatalf("a retry changed the body")
		}
	}
	if got[4].delivery == firstDelivery {
		t.Fatal("a fifth attempt of a delivered notice")
	}
	seq0, _, _ := seqOf(t, got[0].body)
	seq4, _, _ := seqOf(t, got[4].body)
	if seq4 <= seq0 {
		t.Fatalf("second notice %d not after the first %d", seq4, seq0)
	}
	// Backoff: the gaps between attempts grow (50, 100, 200 ms at least).
	for i := 1; i < 4; i++ {
		if gap := got[i].at.Sub(got[i-1].at); gap < 40*time.Millisecond {
			t.Fatalf("attempt %d came %s after the previous one: no backoff", i+1, gap)
		}
	}
	var first delivery
	deadline = time.Now().Add(time.Minute)
	for {
		for _, d := range deliveries(t, alice, org.ID, hook.ID) {
			if d.ID == firstDelivery {
				first = d
			}
		}
		if first.Status == "delivered" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if first.Status != "delivered" || first.Attempts != 4 || first.LastStatusCode == nil || *first.LastStatusCode != 204 || first.LastError != nil {
		t.Fatalf("first delivery after success: %+v", first)
	}

	// The metrics counted the three retries and, so far, at least the first success.
	text := string(env.Anonymous().DoURL(t, "GET", "/metrics", nil).Expect(t, http.StatusOK).Body)
	if !strings.Contains(text, `keyledger_webhook_attempts_total{outcome="retry"} 3`) || strings.Contains(text, `keyledger_webhook_attempts_total{outcome="delivered"} 0`) {
		t.Fatalf("webhook metrics:\n%s", grepLines(text, "keyledger_webhook"))
	}

	// Redeliver sends the same delivery again, with the same body and id.
	alice.Do(t, "POST", "/orgs/"+org.ID+"/webhooks/"+hook.ID+"/deliveries/"+firstDelivery+"/redeliver", nil).Expect(t, http.StatusAccepted)
	got = rc.waitFor(t, "the redelivery", func(g []received) bool { return len(g) >= 6 })
	if got[5].delivery != firstDelivery || string(got[5].body) != string(got[0].body) {
		t.Fatalf("redelivery: %s %s", got[5].delivery, got[5].body)
	}
	deadline = time.Now().Add(time.Minute)
	for {
		for _, d := range deliveries(t, alice, org.ID, hook.ID) {
			if d.ID == firstDelivery {
				first = d
			}
		}
		if first.Attempts == 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if first.Status != "delivered" || first.Attempts != 5 {
		t.Fatalf("after redelivery: %+v", first)
	}
	alice.Do(t, "POST", "/orgs/"+org.ID+"/webhooks/"+hook.ID+"/deliveries/00000000-0000-4000-8000-000000000000/redeliver", nil).
		Problem(t, http.StatusNotFound, "not_found")
	alice.Do(t, "POST", "/orgs/"+org.ID+"/webhooks/"+hook.ID+"/deliveries/nope/redeliver", nil).Problem(t, http.StatusNotFound, "not_found")
}

// A delivery that keeps failing past its retry window is failed, and stops blocking
// the secret's later notices; a redelivery once the receiver is fixed delivers it.
func TestDeliveryFailsAfterItsRetryWindowAndRedeliverRevivesIt(t *testing.T) {
	t.Parallel()
	env := newEnv(t, 500*time.Millisecond)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	var broken atomic.Bool
	broken.Store(true)
	rc := newReceiver(t, func(received, int) int {
		if broken.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	hook := createWebhook(t, alice, org.ID, rc.URL)
	alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "v1"})
	var d delivery
	deadline := time.Now().Add(time.Minute)
	for d.Status != "failed" {
		if time.Now().After(deadline) {
			t.Fatalf("delivery never failed: %+v", d)
		}
		time.Sleep(20 * time.Millisecond)
		if ds := deliveries(t, alice, org.ID, hook.ID); len(ds) == 1 {
			d = ds[0]
		}
	}
	if d.Attempts < 3 || d.NextAttemptAt != nil || d.LastError == nil || *d.LastError != "HTTP 500" {
		t.Fatalf("failed delivery %+v", d)
	}
	n := len(rc.requests())
	time.Sleep(300 * time.Millisecond)
	if len(rc.requests()) != n {
		t.Fatal("a failed delivery is still being retried")
	}
	broken.Store(false)
	alice.Do(t, "POST", "/orgs/"+org.ID+"/webhooks/"+hook.ID+"/deliveries/"+d.ID+"/redeliver", nil).Expect(t, http.StatusAccepted)
	rc.waitFor(t, "the redelivery", func(g []received) bool { return len(g) > n })
	deadline = time.Now().Add(time.Minute)
	for d.Status != "delivered" {
		if time.Now().After(deadline) {
			t.Fatalf("redelivered delivery: %+v", d)
		}
		time.Sleep(20 * time.Millisecond)
		d = deliveries(t, alice, org.ID, hook.ID)[0]
	}
}

// Redirects are not followed: a 3xx is a failed attempt, and the place it points to
// is never asked.
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	env := newEnv(t, 0)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	target := newReceiver(t, nil)
	redirector := newReceiver(t, nil)
	redirector.Config.Handler = http.RedirectHandler(target.URL+"/elsewhere", http.StatusTemporaryRedirect)
	hook := createWebhook(t, alice, org.ID, redirector.URL)
	alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "v1"})
	var d delivery
	deadline := time.Now().Add(time.Minute)
	for d.Attempts < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("delivery %+v", d)
		}
		time.Sleep(20 * time.Millisecond)
		if ds := deliveries(t, alice, org.ID, hook.ID); len(ds) == 1 {
			d = ds[0]
		}
	}
	if d.Status != "pending" || d.LastStatusCode == nil || *d.LastStatusCode != 307 || d.LastError == nil || !strings.Contains(*d.LastError, "redirects are not followed") {
		t.Fatalf("redirected delivery %+v", d)
	}
	if n := len(target.requests()); n != 0 {
		t.Fatalf("the redirect's target got %d requests", n)
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
