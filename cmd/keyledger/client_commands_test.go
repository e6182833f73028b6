package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

func TestLoginStoresAPrivateTokenAndLogoutRevokesIt(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)

	h.cli(t, "wrong password!\n", "login", "--email", "alice@example.com", "--password-stdin").failed(t, "The email or password is wrong.")
	out := h.cli(t, apitest.Password+"\n", "login", "--email", "alice@example.com", "--password-stdin", "--server", h.env.BaseURL).ok(t)
	if !strings.Contains(out.stdout, "Logged in to "+h.env.BaseURL+" as alice@example.com") {
		t.Errorf("login said %q", out.stdout)
	}
	path := filepath.Join(h.vars["XDG_CONFIG_HOME"], "keyledger", "config.json")
	assertMode(t, path, 0o600)
	assertMode(t, filepath.Dir(path), 0o700|os.ModeDir)
	var saved credentials
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &saved) != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if saved.Server != h.env.BaseURL || !strings.HasPrefix(saved.Token, "kl_pat_") || saved.TokenID == "" {
		t.Fatalf("saved %+v", saved.Server)
	}
	host, _ := os.Hostname()
	tokens := h.alice.Do(t, "GET", "/auth/tokens", nil).Expect(t, http.StatusOK)
	if !strings.Contains(string(tokens.Body), `"keyledger-cli on `+host+`"`) {
		t.Errorf("tokens %s", tokens.Body)
	}

	// Without KEYLEDGER_SERVER the login's server is used; without a token, the login's.
	noServer := h.withToken("")
	delete(noServer.vars, "KEYLEDGER_SERVER")
	delete(noServer.vars, "KEYLEDGER_TOKEN")
	orgs := noServer.main(t, "orgs").ok(t)
	if !strings.Contains(orgs.stdout, h.org.ID) || !strings.Contains(orgs.stdout, "Acme") || !strings.Contains(orgs.stdout, "owner") {
		t.Errorf("orgs printed %q", orgs.stdout)
	}

	// A password read from a pipe without --password-stdin works too (no terminal).
	h.cli(t, apitest.Password+"\n", "login", "--email", "alice@example.com").ok(t)
	b, _ = os.ReadFile(path)
	var second credentials
	_ = json.Unmarshal(b, &second)
	if second.Token == saved.Token {
		t.Fatal("a second login kept the first token")
	}
	// The token it replaced is revoked, not left working with no one holding it.
	replaced := h.env.Anonymous()
	replaced.Token = saved.Token
	replaced.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	tokens = h.alice.Do(t, "GET", "/auth/tokens", nil).Expect(t, http.StatusOK)
	if n := strings.Count(string(tokens.Body), `"keyledger-cli on `+host+`"`); n != 1 {
		t.Errorf("%d CLI tokens after a second login, want 1: %s", n, tokens.Body)
	}

	out = noServer.main(t, "logout").ok(t)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the login file is still there: %v", err)
	}
	probe := h.env.Anonymous()
	probe.Token = second.Token
	probe.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	noServer.main(t, "orgs").failed(t, "not logged in")
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
	}
}

func TestSecretsCommands(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	a := h.withToken(h.alice.Token)

	out := a.main(t, "secrets", "set", "stripe_key=sk_test_1", "DEBUG=true", "--org", "Acme", "--env", "dev").ok(t)
	if out.stdout != "STRIPE_KEY: created, development v1\nDEBUG: created, development v1\n" {
		t.Errorf("set printed %q", out.stdout)
	}
	// The value comes from standard input, without echo's newline; flags after names.
	out = a.cli(t, "sk_live_secret\n", "secrets", "set", "STRIPE_KEY=-", "--org", h.org.ID, "--env", "production").ok(t)
	if out.stdout != "STRIPE_KEY: updated, production v1\n" {
		t.Errorf("set from stdin printed %q", out.stdout)
	}
	a.main(t, "secrets", "set", "STRIPE_KEY=sk_test_2", "--org", "acme", "--env", "development").ok(t)

	list := a.main(t, "secrets", "list", "--org", "Acme").ok(t).stdout
	want := "NAME        DEVELOPMENT  STAGING  PRODUCTION  OWNER\n" +
		"DEBUG       v1           -        -           alice@example.com\n" +
		"STRIPE_KEY  v2           -        v1          alice@example.com\n"
	if list != want {
		t.Errorf("list printed\n%s\nwant\n%s", list, want)
	}
	if strings.Contains(list, "sk_") {
		t.Error("list shows a value or mask")
	}
	list = a.main(t, "secrets", "list", "--org", "Acme", "--env", "production").ok(t).stdout
	if strings.Contains(list, "DEBUG") || !strings.Contains(list, "STRIPE_KEY") {
		t.Errorf("list --env production printed %q", list)
	}

	if got := a.main(t, "secrets", "get", "stripe_key", "--org", "Acme", "--env", "prod").ok(t).stdout; got != "sk_live_secret\n" {
		t.Errorf("get printed %q", got)
	}
	a.main(t, "secrets", "get", "STRIPE_KEY", "--org", "Acme", "--env", "staging").failed(t, "The secret has no staging value.")
	a.main(t, "secrets", "get", "NOPE", "--org", "Acme", "--env", "staging").failed(t, "no secret named NOPE")
	a.main(t, "secrets", "get", "STRIPE_KEY", "--org", "Nowhere", "--env", "staging").failed(t, `no organization named "Nowhere"`)
	a.main(t, "secrets", "get", "STRIPE_KEY", "--org", "Acme").failed(t, "--env is required")
	a.main(t, "secrets", "set", "=oops", "--org", "Acme", "--env", "dev").failed(t, "has no name")
	// A value that is not UTF-8 is refused before it is sent (JSON would carry it as
	// U+FFFD), and its bytes are not echoed.
	bin := a.cli(t, "\x00\xff\xfeZQXJ\n", "secrets", "set", "BLOB=-", "--org", "Acme", "--env", "dev")
	bin.failed(t, "the value of BLOB is not UTF-8 text")
	if strings.Contains(bin.err.Error()+bin.stderr+bin.stdout, "ZQXJ") {
		t.Errorf("the refusal echoed the value: %v %q", bin.err, bin.stderr)
	}
	a.main(t, "secrets", "set", "BLOB=\xff", "--org", "Acme", "--env", "dev").failed(t, "the value of BLOB is not UTF-8 text")

	hist := a.main(t, "secrets", "history", "STRIPE_KEY", "--org", "Acme", "--env", "development").ok(t).stdout
	lines := strings.Split(strings.TrimSpace(hist), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "development  2        updated  alice@example.com") ||
		!strings.HasPrefix(lines[2], "development  1        created") {
		t.Errorf("history printed\n%s", hist)
	}

	out = a.main(t, "secrets", "delete", "STRIPE_KEY", "--env", "production", "--org", "Acme").ok(t)
	if out.stdout != "STRIPE_KEY: value in production deleted\n" {
		t.Errorf("delete --env printed %q", out.stdout)
	}
	a.main(t, "secrets", "delete", "DEBUG", "--org", "Acme").ok(t)
	list = a.main(t, "secrets", "list", "--org", "Acme").ok(t).stdout
	if strings.Contains(list, "DEBUG") || !strings.Contains(list, "STRIPE_KEY  v2           -        -") {
		t.Errorf("after deletes, list printed\n%s", list)
	}

	// A viewer sees the list but may not write; the problem's detail is the message.
	bob := h.env.SignUp(t, "bob@example.com", "Bob")
	h.alice.AddMember(t, h.org.ID, "bob@example.com", "viewer")
	b := h.withToken(bob.Token)
	b.main(t, "secrets", "list", "--org", "Acme").ok(t)
	b.main(t, "secrets", "set", "NEW=1", "--org", "Acme", "--env", "dev").failed(t, "NEW: Your role does not allow creating secrets.")

	// A revoked or wrong token fails with the server's sentence.
	h.withToken("kl_pat_00000000000000000000000000000000AAAA").main(t, "secrets", "list", "--org", h.org.ID).
		failed(t, "The token is invalid, expired or revoked.")
}

func TestExportFormats(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	h.seed(t)
	a := h.withToken(h.alice.Token)
	want := map[string]string{"DATABASE_URL": "postgres://prod/db?sslmode=require", "TRICKY": trickyValue}

	dotenv := a.main(t, "export", "--org", "Acme", "--env", "production").ok(t).stdout
	if got := sourceDotenv(t, dotenv, "DATABASE_URL", "TRICKY"); !equalMaps(got, want) {
		t.Errorf("dotenv read back as %q\nfile:\n%s", got, dotenv)
	}
	var fromJSON map[string]string
	out := a.main(t, "export", "--org", "Acme", "--env", "production", "--format", "json").ok(t).stdout
	if err := json.Unmarshal([]byte(out), &fromJSON); err != nil || !equalMaps(fromJSON, want) {
		t.Errorf("json %s: %v", out, err)
	}
	out = a.main(t, "export", "--org", "Acme", "--env", "production", "--format", "yaml").ok(t).stdout
	if got := parseYAML(t, out); !equalMaps(got, want) {
		t.Errorf("yaml read back as %q\nfile:\n%s", got, out)
	}
	out = a.main(t, "export", "--org", "Acme", "--env", "development", "--format", "yaml").ok(t).stdout
	if got := parseYAML(t, out); len(got) != 0 {
		t.Errorf("empty yaml %q", out)
	}
	a.main(t, "export", "--org", "Acme", "--env", "production", "--format", "xml").failed(t, "unknown format")
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
