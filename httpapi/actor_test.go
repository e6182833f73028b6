package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/projections"
)

func auditOf(t *testing.T, env *apitest.Env, orgID string) []projections.AuditEntry {
	t.Helper()
	entries, _, err := env.DB.Audit.ListAudit(context.Background(), orgID, projections.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestCommandsRecordTheActor checks that commands carry the caller's id, address and
// User-Agent, that X-Forwarded-For is ignored unless the peer is a trusted proxy (and
// then read from the right, past the entries a client could forge), and
// that audit entries (denials too) are visible when the response arrives.
func TestCommandsRecordTheActor(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "behind a trusted proxy"}[trusted], func(t *testing.T) {
			t.Parallel()
			env := apitest.New(t, func(c *httpapi.Config) {
				if trusted {
					c.TrustedProxies = []string{"127.0.0.1"}
				}
			})
			alice := env.SignUp(t, "alice@example.com", "Alice")
			alice.Header.Set("User-Agent", "keyledger-test/1.0")
			// The left entry is what a client could send itself; the proxy appended the
			// right one.
			alice.Header.Set("X-Forwarded-For", "198.51.100.66, 203.0.113.9")
			org := alice.CreateOrg(t, "Acme")
			s := alice.CreateSecret(t, org.ID, "KEY", map[string]string{"production": "p-value"})
			alice.Do(t, "POST", "/orgs/"+org.ID+"/secrets/"+s.ID+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK)

			entries := auditOf(t, env, org.ID)
			if len(entries) != 2 || entries[0].Action != "secret.revealed" || entries[1].Action != "secret.created" {
				t.Fatalf("audit %+v", entries)
			}
			wantIP := "127.0.0.1"
			if trusted {
				wantIP = "203.0.113.9"
			}
			for _, e := range entries {
				if e.ActorID != alice.UserID || e.IP != wantIP || e.UserAgent != "keyledger-test/1.0" {
					t.Fatalf("actor of %s: id %q ip %q ua %q", e.Action, e.ActorID, e.IP, e.UserAgent)
				}
			}

			// A denied attempt is in the trail when the 403 arrives.
			viewer := env.SignUp(t, "viewer@example.com", "Viewer")
			alice.AddMember(t, org.ID, viewer.Email, "viewer")
			r := viewer.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+s.ID, map[string]any{"description": "mine now"})
			r.Problem(t, http.StatusForbidden, "forbidden")
			if r.Header.Get("X-Keyledger-Seq") == "" {
				t.Fatal("an audited refusal has no X-Keyledger-Seq")
			}
			entries = auditOf(t, env, org.ID)
			if entries[0].Outcome != "denied" || entries[0].ActorID != viewer.UserID || entries[0].Action != "secret.updated" {
				t.Fatalf("latest entry %+v", entries[0])
			}
		})
	}
}

func TestListAsOf(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "KEY", map[string]string{"production": "first-value"})
	time.Sleep(20 * time.Millisecond)
	between := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(20 * time.Millisecond)
	alice.Do(t, "PATCH", "/orgs/"+org.ID+"/secrets/"+s.ID, map[string]any{"values": map[string]any{"production": "second-value"}}).Expect(t, http.StatusOK)
	alice.CreateSecret(t, org.ID, "LATER", nil)

	var then page
	alice.Do(t, "GET", "/orgs/"+org.ID+"/secrets?as_of="+between, nil).Expect(t, http.StatusOK).JSON(t, &then)
	if len(then.Items) != 1 || then.Items[0].Version != 1 || then.Items[0].Environments["production"].Version != 1 {
		t.Fatalf("as_of %+v", then.Items)
	}
	var now page
	alice.Do(t, "GET", "/orgs/"+org.ID+"/secrets", nil).Expect(t, http.StatusOK).JSON(t, &now)
	if len(now.Items) != 2 {
		t.Fatalf("now %v", names(now))
	}
}

func TestSessionsExpire(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	env := apitest.New(t, func(c *httpapi.Config) { c.Now, c.SessionTTL = clock, time.Hour })
	alice := env.SignUp(t, "alice@example.com", "Alice")
	alice.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK)
	offset.Store(int64(61 * time.Minute))
	alice.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	alice.WithCookies(false).Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogsNeverContainSecrets runs requests that carry values, passwords and tokens
// (successful and refused) with debug logging on, and looks for them in the log.
func TestLogsNeverContainSecrets(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	env := apitest.New(t, func(c *httpapi.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	const value, value2, wrongPassword = "VALUE-4f1c9d-SECRET", "VALUE-77aa02-SECRET", "WRONG-PASSWORD-91c3"
	s := alice.CreateSecret(t, org.ID, "KEY", map[string]string{"production": value})
	base := "/orgs/" + org.ID + "/secrets/" + s.ID
	alice.Do(t, "PATCH", base, map[string]any{"values": map[string]any{"staging": value2}}).Expect(t, http.StatusOK)
	alice.Do(t, "POST", base+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK)
	alice.Do(t, "PATCH", base, `{"values": {"staging": "`+value2+`", "bogus": 1}}`).Problem(t, http.StatusBadRequest, "invalid_request")
	alice.Do(t, "PATCH", base, `{"values": {"staging": "`+value2+`"`).Problem(t, http.StatusBadRequest, "invalid_json")
	alice.Do(t, "GET", "/orgs/"+org.ID+"/secrets?q="+value, nil).Expect(t, http.StatusOK)
	env.Anonymous().Do(t, "POST", "/auth/login", map[string]any{"email": "alice@example.com", "password": wrongPassword}).
		Problem(t, http.StatusUnauthorized, "unauthenticated")

	out := logs.String()
	if !strings.Contains(out, "/reveal") {
		t.Fatalf("the request log is missing: %s", out)
	}
	for _, secret := range []string{value, value2, wrongPassword, apitest.Password, alice.Token} {
		if strings.Contains(out, secret) {
			t.Fatalf("the log contains %q:\n%s", secret, out)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	env.SignUp(t, "alice@example.com", "Alice")
	r := env.Anonymous().DoURL(t, "GET", "/metrics", nil).Expect(t, http.StatusOK)
	body := string(r.Body)
	for _, want := range []string{"keyledger_http_requests_total{class=\"2xx\"}", "keyledger_projection_lag ", "# TYPE keyledger_stream_last_seq gauge"} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics lack %q:\n%s", want, body)
		}
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("Content-Type %q", r.Header.Get("Content-Type"))
	}
}
