package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// Every field a person names refuses NUL and other control characters with 422 on
// that field; a value holds them byte for byte; and nothing of it stops the read
// models (the next command answers at once, with its read-your-writes row).
func TestNamedTextRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	sec := alice.CreateSecret(t, org.ID, "EXISTING", nil)
	for _, bad := range []string{"evil\u0000name", "bell\u0007", "line\u2028sep", "esc\u001b[2J"} {
		cases := []struct {
			name, method, path, field string
			body                      map[string]any
		}{
			{"signup name", "POST", "/auth/signup", "name", map[string]any{"email": "mallory@example.com", "password": apitest.Password, "name": bad}},
			{"org name", "POST", "/orgs", "name", map[string]any{"name": bad}},
			{"org rename", "PATCH", "/orgs/" + org.ID, "name", map[string]any{"name": bad}},
			{"personal token name", "POST", "/auth/tokens", "name", map[string]any{"name": bad}},
			{"service token name", "POST", "/orgs/" + org.ID + "/service-tokens", "name", map[string]any{"name": bad, "environments": []string{"production"}}},
			{"secret name", "POST", "/orgs/" + org.ID + "/secrets", "name", map[string]any{"name": bad}},
			{"secret description", "POST", "/orgs/" + org.ID + "/secrets", "description", map[string]any{"name": "DESCRIBED", "description": bad}},
			{"secret description change", "PATCH", "/orgs/" + org.ID + "/secrets/" + sec.ID, "description", map[string]any{"description": bad}},
			{"webhook url", "POST", "/orgs/" + org.ID + "/webhooks", "url", map[string]any{"url": "https://93.184.215.14/" + bad}},
			{"webhook description", "POST", "/orgs/" + org.ID + "/webhooks", "description", map[string]any{"url": "https://93.184.215.14/", "description": bad}},
		}
		for _, c := range cases {
			p := alice.Do(t, c.method, c.path, c.body).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
			if len(p.Errors) != 1 || p.Errors[0].Field != c.field {
				t.Errorf("%s %q: errors %+v, want one on %q", c.name, bad, p.Errors, c.field)
			}
		}
	}
	// A description keeps its tabs and newlines.
	alice.Do(t, "POST", "/orgs/"+org.ID+"/secrets", map[string]any{"name": "MULTILINE", "description": "one\n\ttwo"}).Expect(t, http.StatusCreated)

	// A value is opaque: NUL and escapes are stored and revealed byte for byte, and
	// its mask shows none of them.
	value := "\u0000\u001b[31mpassword\u0000" + strings.Repeat("x", 30) + "\r\n\u0000"
	var row struct {
		ID           string `json:"id"`
		Environments map[string]struct {
			Mask string `json:"mask"`
		} `json:"environments"`
	}
	alice.Do(t, "POST", "/orgs/"+org.ID+"/secrets", map[string]any{"name": "BINARYISH", "values": map[string]string{"production": value}}).
		Expect(t, http.StatusCreated).JSON(t, &row)
	if m := row.Environments["production"].Mask; m != "\uFFFD\uFFFD[31mpa***x\uFFFD\uFFFD\uFFFD" || strings.ContainsFunc(m, domain.IsControl) {
		t.Errorf("mask %q", m)
	}
	if revealed := reveal(t, alice, "/orgs/"+org.ID+"/secrets/"+row.ID, "production"); revealed.Value != value {
		t.Errorf("revealed %q, want %q", revealed.Value, value)
	}
}

// A value is stored byte for byte, so a body that encoding/json would decode into
// something else is refused: bytes that are not UTF-8 and escapes of half a surrogate
// pair were stored as U+FFFD, answered 201, and revealed as what nobody sent. Nothing
// of a refused body is kept; a pair of escapes is one character, stored as its UTF-8.
func TestValuesThatAreNotUnicodeTextAreRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	secrets := "/orgs/" + org.ID + "/secrets"
	sec := alice.CreateSecret(t, org.ID, "KEPT", map[string]string{"production": "before"})
	// Raw bytes that are not UTF-8, then escapes as the body carries them.
	for _, raw := range []string{"\xff\xfe", `\ud800`, `x\udc00y`, `\ud83d\u0041`} {
		alice.Do(t, "POST", secrets, `{"name":"NEW","values":{"production":"`+raw+`"}}`).Problem(t, http.StatusBadRequest, "invalid_json")
		alice.Do(t, "PATCH", secrets+"/"+sec.ID, `{"values":{"production":"`+raw+`"}}`).Problem(t, http.StatusBadRequest, "invalid_json")
		alice.Do(t, "POST", "/orgs", `{"name":"Org `+raw+`"}`).Problem(t, http.StatusBadRequest, "invalid_json")
	}
	if revealed := reveal(t, alice, secrets+"/"+sec.ID, "production"); revealed.Value != "before" || revealed.Version != 1 {
		t.Errorf("after refused patches: %q at version %d, want \"before\" at 1", revealed.Value, revealed.Version)
	}
	// Nothing was created: the name is free, and a pair of escapes is stored as the
	// character it stands for.
	var row struct {
		ID string `json:"id"`
	}
	alice.Do(t, "POST", secrets, `{"name":"NEW","values":{"production":"smile \ud83d\ude00"}}`).Expect(t, http.StatusCreated).JSON(t, &row)
	if revealed := reveal(t, alice, secrets+"/"+row.ID, "production"); revealed.Value != "smile \U0001F600" {
		t.Errorf("revealed %q, want the emoji", revealed.Value)
	}
}

// A body that names a field twice says two things: encoding/json kept the last, and a
// proxy or gateway in front may have kept the first (which environment a reveal was
// of, which version an update expected). It is refused with invalid_request, and
// nothing of it happens.
func TestFieldsNamedTwiceAreRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	secrets := "/orgs/" + org.ID + "/secrets"
	sec := alice.CreateSecret(t, org.ID, "KEPT", map[string]string{"production": "before", "development": "dev"})
	for _, c := range []struct{ name, method, path, body string }{
		{"create, a value twice", "POST", secrets, `{"name":"NEW","values":{"production":"a","production":"b"}}`},
		{"create, the name twice, escaped", "POST", secrets, `{"name":"NEW","n\u0061me":"OTHER"}`},
		{"update, expected_version twice", "PATCH", secrets + "/" + sec.ID, `{"values":{"production":"after"},"expected_version":1,"expected_version":9}`},
		{"reveal, env twice", "POST", secrets + "/" + sec.ID + "/reveal", `{"env":"development", "env":"production"}`},
		{"an org's name twice", "POST", "/orgs", `{"name":"One","name":"Two"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := alice.Do(t, c.method, c.path, c.body).Problem(t, http.StatusBadRequest, "invalid_request")
			if !strings.Contains(p.Detail, "twice") {
				t.Errorf("detail %q", p.Detail)
			}
		})
	}
	if revealed := reveal(t, alice, secrets+"/"+sec.ID, "production"); revealed.Value != "before" || revealed.Version != 1 {
		t.Errorf("after the refused update: %q at version %d", revealed.Value, revealed.Version)
	}
	// Nothing was created, and the refused reveal left no trace in the audit trail:
	// the one reveal there is the one above.
	alice.Do(t, "POST", secrets, `{"name":"NEW","values":{"production":"b"}}`).Expect(t, http.StatusCreated)
	var audit struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit?action=secret.revealed", nil).Expect(t, http.StatusOK).JSON(t, &audit)
	if len(audit.Items) != 1 {
		t.Errorf("%d reveals audited, want 1: %+v", len(audit.Items), audit.Items)
	}
}

// reveal reveals the secret at path (…/secrets/{id}) in env, which must answer 200.
func reveal(t *testing.T, c *apitest.Client, path, env string) wire.Revealed {
	t.Helper()
	var r wire.Revealed
	c.Do(t, "POST", path+"/reveal", map[string]any{"env": env}).Expect(t, http.StatusOK).JSON(t, &r)
	return r
}

// While the projector cannot advance, /readyz fails and /metrics says so; both
// recover by themselves once it can write again.
func TestStalledProjectionFailsReadiness(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.WaitTimeout = 500 * time.Millisecond })
	alice := env.SignUp(t, "alice@example.com", "Alice")
	anon := env.Anonymous()
	anon.DoURL(t, "GET", "/readyz", nil).Expect(t, http.StatusOK)
	if m := anon.DoURL(t, "GET", "/metrics", nil).Expect(t, http.StatusOK); !strings.Contains(string(m.Body), "\nkeyledger_projection_stalled 0\n") {
		t.Fatalf("metrics before any stall:\n%s", m.Body)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT set_config('search_path', (SELECT schema FROM public.keyledger_read_model), false);
		CREATE FUNCTION refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'test: this table refuses writes'; END $$;
		CREATE TRIGGER refuse_insert BEFORE INSERT ON personal_tokens FOR EACH ROW EXECUTE FUNCTION refuse_insert()`); err != nil {
		t.Fatal(err)
	}
	// Recorded in the log, so it answers success even though the read models lag.
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "laptop"}).Expect(t, http.StatusCreated)

	var ready struct {
		Status     string  `json:"status"`
		Projection string  `json:"projection"`
		StalledSeq *uint64 `json:"stalled_seq"`
	}
	waitFor(t, "readyz to fail", func() bool {
		r := anon.DoURL(t, "GET", "/readyz", nil)
		r.JSON(t, &ready)
		return r.Status == http.StatusServiceUnavailable
	})
	if ready.Status != "unavailable" || ready.Projection != "stalled" || ready.StalledSeq == nil || *ready.StalledSeq == 0 {
		t.Fatalf("readyz while stalled: %+v", ready)
	}
	m := anon.DoURL(t, "GET", "/metrics", nil).Expect(t, http.StatusOK)
	if !strings.Contains(string(m.Body), "\nkeyledger_projection_stalled 1\n") || !strings.Contains(string(m.Body), "\nkeyledger_projection_stalled_seq ") {
		t.Fatalf("metrics while stalled:\n%s", m.Body)
	}

	if _, err := conn.Exec(ctx, `DROP TRIGGER refuse_insert ON personal_tokens`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "readyz to recover", func() bool {
		return anon.DoURL(t, "GET", "/readyz", nil).Status == http.StatusOK
	})
	if m := anon.DoURL(t, "GET", "/metrics", nil); !strings.Contains(string(m.Body), "\nkeyledger_projection_stalled 0\n") {
		t.Fatalf("metrics after recovery:\n%s", m.Body)
	}
	var tokens struct {
		Items []struct{ Name string } `json:"items"`
	}
	alice.Do(t, "GET", "/auth/tokens", nil).Expect(t, http.StatusOK).JSON(t, &tokens)
	if len(tokens.Items) != 1 || tokens.Items[0].Name != "laptop" {
		t.Fatalf("tokens after recovery %+v", tokens)
	}
}

func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
