package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
)

type issuedToken struct {
	ID           string   `json:"id"`
	Token        string   `json:"token"`
	Name         string   `json:"name"`
	Environments []string `json:"environments"`
}

func TestServiceTokenFetchesOnlyItsEnvironmentsUntilRevoked(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	alice.CreateSecret(t, org.ID, "STRIPE_KEY", map[string]string{"production": "sk_live_prod", "development": "sk_test_dev"})
	alice.CreateSecret(t, org.ID, "DB_URL", map[string]string{"production": "postgres://prod"})

	var tok issuedToken
	alice.Do(t, "POST", "/orgs/"+org.ID+"/service-tokens", map[string]any{"name": "deploy", "environments": []string{"production"}}).
		Expect(t, http.StatusCreated).JSON(t, &tok)
	if !strings.HasPrefix(tok.Token, "kl_st_") || tok.ID == "" || len(tok.Environments) != 1 {
		t.Fatalf("issued %+v", tok)
	}
	list := alice.Do(t, "GET", "/orgs/"+org.ID+"/service-tokens", nil).Expect(t, http.StatusOK)
	if strings.Contains(string(list.Body), tok.Token) || !strings.Contains(string(list.Body), tok.ID) {
		t.Fatalf("list shows the token or misses it: %s", list.Body)
	}

	svc := env.Anonymous()
	svc.Token = tok.Token
	var got struct {
		Values map[string]string `json:"values"`
		Seq    uint64            `json:"seq"`
	}
	r := svc.Do(t, "GET", "/orgs/"+org.ID+"/environments/production/values", nil).Expect(t, http.StatusOK)
	r.JSON(t, &got)
	if len(got.Values) != 2 || got.Values["STRIPE_KEY"] != "sk_live_prod" || got.Values["DB_URL"] != "postgres://prod" || got.Seq == 0 {
		t.Fatalf("values %+v", got)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	svc.Do(t, "GET", "/orgs/"+org.ID+"/environments/development/values", nil).Problem(t, http.StatusForbidden, "forbidden")
	svc.Do(t, "GET", "/orgs/"+org.ID+"/secrets", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	// A member with reveal rights may fetch too; an outsider may not.
	var mine struct {
		Values map[string]string `json:"values"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/environments/development/values", nil).Expect(t, http.StatusOK).JSON(t, &mine)
	if mine.Values["STRIPE_KEY"] != "sk_test_dev" {
		t.Fatalf("member fetch %+v", mine)
	}
	eve := env.SignUp(t, "eve@example.com", "Eve")
	eve.Do(t, "GET", "/orgs/"+org.ID+"/environments/production/values", nil).Problem(t, http.StatusNotFound, "not_found")
	// The token in an organization that is not its own is an outsider there too: 404,
	// as for Eve (it answered 401, as if the token were bad).
	other := eve.CreateOrg(t, "Other")
	svc.Do(t, "GET", "/orgs/"+other.ID+"/environments/production/values", nil).Problem(t, http.StatusNotFound, "not_found")
	svc.Do(t, "GET", "/orgs/00000000-0000-4000-8000-000000000000/environments/production/values", nil).Problem(t, http.StatusNotFound, "not_found")

	alice.Do(t, "DELETE", "/orgs/"+org.ID+"/service-tokens/"+tok.ID, nil).Expect(t, http.StatusNoContent)
	svc.Do(t, "GET", "/orgs/"+org.ID+"/environments/production/values", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	svc.Do(t, "GET", "/orgs/"+other.ID+"/environments/production/values", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	var audit struct {
		Items []struct {
			Action  string   `json:"action"`
			Outcome string   `json:"outcome"`
			Env     string   `json:"env"`
			Names   []string `json:"names"`
			Actor   struct {
				ID string `json:"id"`
			} `json:"actor"`
		} `json:"items"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit?action=secrets.fetched", nil).Expect(t, http.StatusOK).JSON(t, &audit)
	var outcomes []string
	for _, e := range audit.Items {
		outcomes = append(outcomes, e.Outcome+"/"+e.Env)
	}
	if strings.Join(outcomes, ",") != "success/development,denied/development,success/production" || audit.Items[2].Actor.ID != tok.ID ||
		strings.Join(audit.Items[2].Names, ",") != "DB_URL,STRIPE_KEY" {
		t.Fatalf("fetch audit %+v", audit.Items)
	}
}

func TestChangeFeedStreamsNoticesAndResumes(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "FEED", map[string]string{"production": "first-value-123"})
	alice.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+s.ID, map[string]any{"values": map[string]any{"production": "second-value-456"}}).Expect(t, http.StatusOK)

	read := func(lastID string, n int) []map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", env.BaseURL+"/api/v1/orgs/"+org.ID+"/changes", nil)
		req.Header.Set("Authorization", "Bearer "+alice.Token)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			b := make([]byte, 500)
			n, _ := resp.Body.Read(b)
			t.Fatalf("content type %q: %s", ct, b[:n])
		}
		var out []map[string]any
		sc := bufio.NewScanner(resp.Body)
		id := ""
		for sc.Scan() && len(out) < n {
			line := sc.Text()
			if line == "" {
				id = "" // ids are per event block: record only a notice's own
			}
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				var m map[string]any
				if err := json.Unmarshal([]byte(v), &m); err != nil {
					t.Fatal(err)
				}
				m["_id"] = id
				out = append(out, m)
				if strings.Contains(v, "value-") {
					t.Fatalf("a notice carries a value: %s", v)
				}
			}
		}
		return out
	}
	alice.CreateSecret(t, org.ID, "MULTI", map[string]string{"development": "d-value-1", "production": "p-value-1"})
	// Last-Event-ID 0 replays the whole feed; without one a subscriber starts from now.
	all := read("0", 2)
	if len(all) != 2 || all[0]["type"] != "secret.created" || all[1]["type"] != "secret.updated" || all[1]["name"] != "FEED" ||
		all[1]["old_version"] != float64(1) || all[1]["new_version"] != float64(2) {
		t.Fatalf("notices %+v", all)
	}
	// The two notices of MULTI's creation share one log event: only the last carries
	// the id, so a client resuming from it has had both.
	both := read(all[1]["_id"].(string), 2)
	if len(both) != 2 || both[0]["name"] != "MULTI" || both[1]["name"] != "MULTI" || both[0]["_id"] != "" || both[1]["_id"] == "" ||
		both[0]["part"] != float64(0) || both[1]["parts"] != float64(2) {
		t.Fatalf("multi-environment notices %+v", both)
	}
	alice.Do(t, "DELETE", "/orgs/"+org.ID+"/secrets/"+s.ID, nil).Expect(t, http.StatusNoContent)
	rest := read(both[1]["_id"].(string), 1)
	if len(rest) != 1 || rest[0]["type"] != "secret.deleted" {
		t.Fatalf("resumed notices %+v", rest)
	}

	// An id past the log's last event is refused: the stream would have waited in
	// silence until the log reached it, sending nothing of what came in between.
	for _, id := range []string{"99999999999", "18446744073709551615"} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", env.BaseURL+"/api/v1/orgs/"+org.ID+"/changes", nil)
		req.Header.Set("Authorization", "Bearer "+alice.Token)
		req.Header.Set("Last-Event-ID", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("Last-Event-ID %s: %d %s", id, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}

	// Without Last-Event-ID a new subscriber starts from now: no history replay.
	fresh := make(chan []map[string]any, 1)
	go func() { fresh <- read("", 1) }()
	time.Sleep(300 * time.Millisecond)
	alice.CreateSecret(t, org.ID, "AFTER_CONNECT", map[string]string{"staging": "s-value-9"})
	if got := <-fresh; len(got) != 1 || got[0]["name"] != "AFTER_CONNECT" {
		t.Fatalf("a new subscriber got %+v, want only AFTER_CONNECT", got)
	}
}

func TestAuditTrailOverHTTP(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	bob := env.SignUp(t, "bob@example.com", "Bob")
	org := alice.CreateOrg(t, "Acme")
	alice.AddMember(t, org.ID, "bob@example.com", "viewer")
	s := alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "p1"})
	bob.Header.Set("User-Agent", "bob-agent/1.0")
	bob.Do(t, "POST", "/orgs/"+org.ID+"/secrets/"+s.ID+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK)
	bob.Do(t, "DELETE", "/orgs/"+org.ID+"/secrets/"+s.ID, nil).Problem(t, http.StatusForbidden, "forbidden")

	// The audit entry of the denied delete is visible when its response has arrived.
	var page struct {
		Items []struct {
			Action, Outcome, IP, UserAgent string
			SecretName                     *string `json:"secret_name"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit?actor=bob@example.com", nil).Expect(t, http.StatusOK).JSON(t, &page)
	if len(page.Items) != 2 || page.Items[0].Action != "secret.deleted" || page.Items[0].Outcome != "denied" ||
		page.Items[1].Action != "secret.revealed" || page.Items[1].SecretName == nil || *page.Items[1].SecretName != "API_KEY" {
		t.Fatalf("bob's trail %+v", page.Items)
	}
	bob.Do(t, "GET", "/orgs/"+org.ID+"/audit", nil).Problem(t, http.StatusForbidden, "forbidden")
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit?action=nope", nil).Problem(t, http.StatusBadRequest, "invalid_request")
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit?from=yesterday", nil).Problem(t, http.StatusBadRequest, "invalid_request")

	csv := alice.Do(t, "GET", "/orgs/"+org.ID+"/audit/export?format=csv", nil).Expect(t, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(string(csv.Body)), "\n")
	if lines[0] != "seq,at,action,outcome,actor_email,secret_id,secret_name,env,ip,user_agent" || len(lines) != 5 ||
		!strings.Contains(lines[1], "denied,bob@example.com") || !strings.Contains(lines[2], "bob-agent/1.0") {
		t.Fatalf("csv:\n%s", csv.Body)
	}
	jsonl := alice.Do(t, "GET", "/orgs/"+org.ID+"/audit/export?format=jsonl&env=production", nil).Expect(t, http.StatusOK)
	if n := len(strings.Split(strings.TrimSpace(string(jsonl.Body)), "\n")); n != 2 {
		t.Fatalf("jsonl has %d lines:\n%s", n, jsonl.Body)
	}
	var ok struct {
		OK      bool   `json:"ok"`
		Checked int    `json:"checked"`
		Head    string `json:"head"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit/verify", nil).Expect(t, http.StatusOK).JSON(t, &ok)
	if !ok.OK || ok.Checked != 4 || ok.Head == "" {
		t.Fatalf("verify %+v", ok)
	}
}

// A values fetch's seq is the point of the log its values are as of. It was the
// sequence of the fetch's audit record, appended after the values were read from read
// models that had not reached a write under way: the answer held the old value under
// a seq past the write, and a client resuming the change feed from that seq never
// heard of the write. X-Keyledger-Seq still names the audit record.
func TestValuesFetchSeqIsWhatTheValuesAreAsOf(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.WaitTimeout = 200 * time.Millisecond })
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "F", map[string]string{"production": "v0"})
	var tok issuedToken
	alice.Do(t, "POST", "/orgs/"+org.ID+"/service-tokens", map[string]any{"name": "deploy", "environments": []string{"production"}}).
		Expect(t, http.StatusCreated).JSON(t, &tok)
	svc := env.Anonymous()
	svc.Token = tok.Token

	// The read models stop where they are; the update is recorded in the log.
	env.StopProjector()
	w := alice.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+s.ID, map[string]any{"values": map[string]any{"production": "v1"}}).
		Expect(t, http.StatusOK)
	written := w.Seq(t)
	r := svc.Do(t, "GET", "/orgs/"+org.ID+"/environments/production/values", nil).Expect(t, http.StatusOK)
	var got struct {
		Values map[string]string `json:"values"`
		Seq    uint64            `json:"seq"`
	}
	r.JSON(t, &got)
	if got.Values["F"] == "v0" && got.Seq >= written {
		t.Fatalf("values as of before the write (F=%q) answered with seq %d, past the write's %d", got.Values["F"], got.Seq, written)
	}
	if got.Values["F"] == "v1" && got.Seq < written {
		t.Fatalf("values after the write answered with seq %d, before the write's %d", got.Seq, written)
	}
	record, err := strconv.ParseUint(r.Header.Get("X-Keyledger-Seq"), 10, 64)
	if err != nil || record <= written {
		t.Fatalf("X-Keyledger-Seq %q: want the fetch's audit record, after the write's %d", r.Header.Get("X-Keyledger-Seq"), written)
	}
}
