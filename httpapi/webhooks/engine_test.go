package webhooks_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/httpapi/webhooks"
)

// received is one request a receiver got.
type received struct {
	delivery, signature, event string
	body                       []byte
	at                         time.Time
}

// receiver is a webhook endpoint for tests: it records every request and answers what
// respond says (200 when nil).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(r received, n int) int
}

func newReceiver(t *testing.T, respond func(r received, n int) int) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := received{delivery: r.Header.Get(webhooks.HeaderDelivery), signature: r.Header.Get(webhooks.HeaderSignature),
			event: r.Header.Get(webhooks.HeaderEvent), body: body, at: time.Now()}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			rec.event = "BAD REQUEST " + r.Method
		}
		rc.mu.Lock()
		rc.got = append(rc.got, rec)
		n := 0
		for _, g := range rc.got {
			if g.delivery == rec.delivery {
				n++
			}
		}
		rc.mu.Unlock()
		code := http.StatusOK
		if rc.respond != nil {
			code = rc.respond(rec, n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// waitFor polls until cond holds over the requests received, or fails after a minute.
func (rc *receiver) waitFor(t *testing.T, what string, cond func([]received) bool) []received {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got := rc.requests()
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver: %s: not within a minute; got %d requests", what, len(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newEnv is an API that allows private webhook addresses (the receivers are on
// loopback) with a delivery engine running beside it, with short retries.
func newEnv(t *testing.T, retryFor time.Duration) *apitest.Env {
	t.Helper()
	env := apitest.New(t, func(c *httpapi.Config) { c.WebhookAllowPrivate = true })
	env.StartWebhooks(t, retryFor)
	return env
}

type createdWebhook struct {
	ID            string   `json:"id"`
	URL           string   `json:"url"`
	Environments  []string `json:"environments"`
	SigningSecret string   `json:"signing_secret"`
	seq           uint64
}

func createWebhook(t *testing.T, c *apitest.Client, orgID, url string, envs ...string) createdWebhook {
	t.Helper()
	body := map[string]any{"url": url}
	if envs != nil {
		body["environments"] = envs
	}
	var w createdWebhook
	r := c.Do(t, "POST", "/orgs/"+orgID+"/webhooks", body).Expect(t, http.StatusCreated)
	r.JSON(t, &w)
	w.seq, _ = strconv.ParseUint(r.Header.Get("X-Keyledger-Seq"), 10, 64)
	if !strings.HasPrefix(w.SigningSecret, "whsec_") || w.ID == "" {
		t.Fatalf("created %+v", w)
	}
	return w
}

type delivery struct {
	ID             string     `json:"id"`
	Seq            uint64     `json:"seq"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
}

func deliveries(t *testing.T, c *apitest.Client, orgID, webhookID string) []delivery {
	t.Helper()
	var out struct {
		Items []delivery `json:"items"`
	}
	c.Do(t, "GET", "/orgs/"+orgID+"/webhooks/"+webhookID+"/deliveries", nil).Expect(t, http.StatusOK).JSON(t, &out)
	return out.Items
}

// sseNotices opens the SSE change feed from event sequence after and returns a
// channel of each notice's raw data.
func sseNotices(t *testing.T, env *apitest.Env, token, orgID string, after uint64) <-chan string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", env.BaseURL+"/api/v1/orgs/"+orgID+"/changes", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", strconv.FormatUint(after, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	out := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				out <- v
			}
		}
	}()
	return out
}

func seqOf(t *testing.T, body []byte) (uint64, string, string) {
	t.Helper()
	var n struct {
		Seq      uint64 `json:"seq"`
		SecretID string `json:"secret_id"`
		Env      string `json:"env"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatalf("notice %s: %v", body, err)
	}
	return n.Seq, n.SecretID, n.Env
}

func TestReceiverGetsEveryChangeAsTheFeedSendsItSigned(t *testing.T) {
	t.Parallel()
	env := newEnv(t, 0)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	all := newReceiver(t, nil)
	prod := newReceiver(t, nil)
	hookAll := createWebhook(t, alice, org.ID, all.URL+"/hook?token=s3cr3t")
	hookProd := createWebhook(t, alice, org.ID, prod.URL+"/prod", "production")
	if len(hookProd.Environments) != 1 || hookProd.Environments[0] != "production" || len(hookAll.Environments) != 0 {
		t.Fatalf("environments: %v, %v", hookAll.Environments, hookProd.Environments)
	}
	// The SSE feed from the second webhook's creation on: what the receivers must see.
	feed := sseNotices(t, env, alice.Token, org.ID, hookProd.seq)

	a := alice.CreateSecret(t, org.ID, "STRIPE_KEY", map[string]string{"production": "p1", "development": "d1"})
	b := alice.CreateSecret(t, org.ID, "DB_URL", map[string]string{"staging": "s1"})
	alice.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+a.ID, map[string]any{"values": map[string]string{"production": "p2"}}).Expect(t, http.StatusOK)
	alice.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+b.ID, map[string]any{"description": "the database"}).Expect(t, http.StatusOK)
	alice.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+a.ID, map[string]any{"values": map[string]string{"production": "p3"}}).Expect(t, http.StatusOK)
	alice.Do(t, "DELETE", "/orgs/"+org.ID+"/secrets/"+b.ID, nil).Expect(t, http.StatusNoContent)

	var want []string
	deadline := time.After(time.Minute)
	for len(want) < 7 {
		select {
		case n := <-feed:
			want = append(want, n)
		case <-deadline:
			t.Fatalf("the SSE feed sent %d notices, want at least 7: %v", len(want), want)
		}
	}
	// Let any further notices of these changes arrive on the feed too.
	time.Sleep(300 * time.Millisecond)
	for len(feed) > 0 {
		want = append(want, <-feed)
	}
	var wantProd []string
	for _, n := range want {
		if _, _, e := seqOf(t, []byte(n)); e == "production" {
			wantProd = append(wantProd, n)
		}
	}
	check := func(rc *receiver, hook createdWebhook, want []string) {
		t.Helper()
		got := rc.waitFor(t, "every notice", func(g []received) bool { return len(g) >= len(want) })
		if len(got) != len(want) {
			t.Fatalf("receiver got %d requests, want %d (once each)", len(got), len(want))
		}
		ids := map[string]bool{}
		bodies := make([]string, len(got))
		for i, g := range got {
			if !webhooks.Verify(hook.SigningSecret, g.signature, g.body, 5*time.Minute, time.Now()) {
				t.Fatalf("request %d: signature %q does not verify", i, g.signature)
			}
			if webhooks.Verify("whsec_wrong", g.signature, g.body, 0, time.Now()) {
				t.Fatal("a wrong secret verifies")
			}
			if g.delivery == "" || ids[g.delivery] {
				t.Fatalf("request %d: delivery id %q empty or repeated", i, g.delivery)
			}
			if strings.HasPrefix(g.event, "BAD") || g.event == "" {
				t.Fatalf("request %d: %q", i, g.event)
			}
			ids[g.delivery] = true
			bodies[i] = string(g.body)
		}
		// The same notices, byte for byte, as the SSE feed's data.
		if !slices.Equal(sorted(bodies), sorted(want)) {
			t.Fatalf("receiver bodies differ from the SSE feed:\n got %v\nwant %v", bodies, want)
		}
		// In order per secret.
		last := map[string]uint64{}
		for _, g := range got {
			s, secret, _ := seqOf(t, g.body)
			if s < last[secret] {
				t.Fatalf("secret %s: notice of event %d after %d", secret, s, last[secret])
			}
			last[secret] = s
		}
	}
	t.Logf("feed: %d notices, %d in production", len(want), len(wantProd))
	check(all, hookAll, want)
	check(prod, hookProd, wantProd)
	if len(wantProd) == 0 || len(wantProd) == len(want) {
		t.Fatalf("the filter test needs both kinds of notices: %d of %d", len(wantProd), len(want))
	}
	for _, d := range deliveries(t, alice, org.ID, hookAll.ID) {
		if d.Status != "delivered" || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.NextAttemptAt != nil {
			t.Fatalf("delivery %+v", d)
		}
	}
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// A removed webhook gets nothing of the changes after its removal; the webhooks that
// remain get them all.
func TestRemovedWebhookGetsNothingMore(t *testing.T) {
	t.Parallel()
	env := newEnv(t, 0)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	gone, kept := newReceiver(t, nil), newReceiver(t, nil)
	goneHook := createWebhook(t, alice, org.ID, gone.URL)
	createWebhook(t, alice, org.ID, kept.URL)
	s := alice.CreateSecret(t, org.ID, "FIRST", map[string]string{"production": "v1"})
	gone.waitFor(t, "the first notice", func(g []received) bool { return len(g) >= 1 })
	r := alice.Do(t, "DELETE", "/orgs/"+org.ID+"/webhooks/"+goneHook.ID, nil).Expect(t, http.StatusNoContent)
	removedAt, err := strconv.ParseUint(r.Header.Get("X-Keyledger-Seq"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		alice.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+s.ID, map[string]any{"values": map[string]string{"production": "v" + strconv.Itoa(i+2)}}).Expect(t, http.StatusOK)
	}
	kept.waitFor(t, "every notice", func(g []received) bool { return len(g) >= 6 })
	for _, g := range gone.requests() {
		if seq, _, _ := seqOf(t, g.body); seq > removedAt {
			t.Fatalf("the webhook removed at event %d got the notice of event %d", removedAt, seq)
		}
	}
}
