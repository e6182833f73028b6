package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

// authRecorder is a plain HTTP server, not Keyledger, that records the
// Authorization header of every request it receives and answers an empty list.
type authRecorder struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
	count int
}

func newAuthRecorder(t *testing.T) *authRecorder {
	t.Helper()
	rs := &authRecorder{}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.count++
		if a := r.Header.Get("Authorization"); a != "" {
			rs.auths = append(rs.auths, a)
		}
		rs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items":[],"next_cursor":null}`))
	}))
	t.Cleanup(rs.Close)
	return rs
}

// authorizations returns the Authorization headers received so far and forgets them.
func (rs *authRecorder) authorizations() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := rs.auths
	rs.auths = nil
	return out
}

// without returns the harness's environment without the named variables.
func (h *cliHarness) without(names ...string) *cliHarness {
	cp := *h
	cp.vars = map[string]string{}
	for k, v := range h.vars {
		cp.vars[k] = v
	}
	for _, n := range names {
		delete(cp.vars, n)
	}
	return &cp
}

// with returns the harness's environment with name set to value.
func (h *cliHarness) with(name, value string) *cliHarness {
	cp := h.without(name)
	cp.vars[name] = value
	return cp
}

func TestSavedLoginIsSentOnlyToItsServer(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	h.cli(t, apitest.Password+"\n", "login", "--email", "alice@example.com", "--password-stdin", "--server", h.env.BaseURL).ok(t)
	path := filepath.Join(h.vars["XDG_CONFIG_HOME"], "keyledger", "config.json")
	other := newAuthRecorder(t)
	plain := h.without("KEYLEDGER_SERVER", "KEYLEDGER_TOKEN")

	// --server and KEYLEDGER_SERVER naming another server: no token goes there.
	for _, c := range []struct {
		name string
		args []string
		h    *cliHarness
	}{
		{"--server", []string{"orgs", "--server", other.URL}, plain},
		{"KEYLEDGER_SERVER", []string{"orgs"}, plain.with("KEYLEDGER_SERVER", other.URL)},
		{"secrets list", []string{"secrets", "list", "--org", h.org.ID, "--server", other.URL}, plain},
		{"run", []string{"run", "--org", h.org.ID, "--env", "dev", "--server", other.URL, "--", "true"}, plain},
		{"logout --server", []string{"logout", "--server", other.URL}, plain},
	} {
		name, r := c.name, c.h.cli(t, "", c.args...)
		if got := other.authorizations(); len(got) > 0 {
			t.Errorf("%s: the other server received Authorization %q", name, got)
		}
		if r.err == nil || !strings.Contains(r.err.Error(), "no login for "+other.URL) ||
			!strings.Contains(r.err.Error(), "keyledger login --server "+other.URL) {
			t.Errorf("%s: error %v, want one that says there is no login for %s and names `keyledger login --server`", name, r.err, other.URL)
		}
	}
	// logout of another server kept the login.
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("logout --server of another server removed the login: %v", err)
	}

	// The login's own server, however spelled, still gets the token.
	for _, server := range []string{h.env.BaseURL, h.env.BaseURL + "/", strings.Replace(h.env.BaseURL, "http://", "HTTP://", 1)} {
		out := plain.cli(t, "", "orgs", "--server", server).ok(t)
		if !strings.Contains(out.stdout, h.org.ID) || !strings.Contains(out.stdout, "Acme") {
			t.Errorf("orgs --server %s printed %q", server, out.stdout)
		}
	}
	out := plain.cli(t, "", "orgs").ok(t)
	if !strings.Contains(out.stdout, "Acme") {
		t.Errorf("orgs printed %q", out.stdout)
	}

	// A token given explicitly is the user's choice: it goes where it is told.
	plain.with("KEYLEDGER_TOKEN", "kl_pat_explicit").cli(t, "", "orgs", "--server", other.URL).ok(t)
	if got := other.authorizations(); len(got) != 1 || got[0] != "Bearer kl_pat_explicit" {
		t.Errorf("with KEYLEDGER_TOKEN the other server received %q", got)
	}

	// A config file as the previous version wrote it still works for its own server.
	var saved credentials
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &saved) != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	old, _ := json.Marshal(map[string]string{"server": h.env.BaseURL + "/", "token": saved.Token, "token_id": saved.TokenID, "email": saved.Email})
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := plain.cli(t, "", "orgs").ok(t); !strings.Contains(out.stdout, "Acme") {
		t.Errorf("orgs with an old config printed %q", out.stdout)
	}
	plain.cli(t, "", "orgs", "--server", other.URL).failed(t, "keyledger login --server")
	if got := other.authorizations(); len(got) > 0 {
		t.Errorf("with an old config the other server received %q", got)
	}

	// Logging out of the login's own server revokes the token there.
	plain.cli(t, "", "logout", "--server", h.env.BaseURL+"/").ok(t)
	probe := h.env.Anonymous()
	probe.Token = saved.Token
	probe.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
}

// A cache written for one server does not open for another, even with the same token
// and file.
func TestFallbackCacheIsBoundToItsServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	getenv := func(n string) string {
		return map[string]string{"HOME": dir, "XDG_CACHE_HOME": dir}[n]
	}
	file := filepath.Join(dir, "cache.json")
	a, err := newFallbackCache(getenv, file, "http://a.example", "Acme", "production")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.write("kl_pat_x", fallbackPayload{Values: map[string]string{"K": "v"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := newFallbackCache(getenv, file, "http://b.example", "Acme", "production")
	if _, err := b.read("kl_pat_x"); err == nil {
		t.Fatal("server b's command opened server a's cache")
	}
	pa, _ := newFallbackCache(getenv, "", "http://a.example", "Acme", "production")
	pb, _ := newFallbackCache(getenv, "", "http://b.example", "Acme", "production")
	if pa.path == pb.path {
		t.Fatal("two servers share a cache file")
	}
}

func TestSecretNameIsCheckedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	rec := newAuthRecorder(t)
	// Pointed at the recording server with an explicit token: a request would show.
	c := h.withToken("kl_pat_x").with("KEYLEDGER_SERVER", rec.URL)
	long := strings.Repeat("A", 305)
	for _, args := range [][]string{
		{"secrets", "get", long, "--env", "dev"},
		{"secrets", "delete", long},
		{"secrets", "history", long},
		{"secrets", "set", long + "=v", "--env", "dev"},
		{"access", "--secret", long},
	} {
		r := c.cli(t, "", append(args, "--org", h.org.ID)...)
		if r.err == nil || !strings.Contains(r.err.Error(), "secret name: must be at most 128 characters") ||
			strings.Contains(r.err.Error(), long) {
			t.Errorf("%s: error %.200v, want one that says \"secret name: must be at most 128 characters\"", args[:2], r.err)
		}
	}
	// Against the real server, the name is refused before the lookup's q= could be.
	if r := h.withToken(h.alice.Token).cli(t, "", "secrets", "get", long, "--org", "Acme", "--env", "dev"); r.err == nil ||
		r.err.Error() != "secret name: must be at most 128 characters" {
		t.Errorf("against the server: error %.200v", r.err)
	}
	for _, args := range [][]string{
		{"secrets", "get", "BAD\xff", "--env", "dev"},
		{"secrets", "set", "BAD\xff=v", "--env", "dev"},
		{"secrets", "history", "bad-name"},
		{"access", "--secret", "BAD\xff"},
	} {
		r := c.cli(t, "", append(args, "--org", h.org.ID)...)
		if r.err == nil {
			t.Errorf("%q succeeded", args)
			continue
		}
		msg := r.err.Error()
		if strings.Contains(msg, "\xff") || !strings.HasPrefix(msg, "secret name ") {
			t.Errorf("%q: error %q", args, msg)
		}
		if strings.Contains(args[2], "\xff") && !strings.Contains(msg, `"BAD\xff"`) {
			t.Errorf("%q: error %q does not quote the name", args, msg)
		}
	}
	rec.mu.Lock()
	n := rec.count
	rec.mu.Unlock()
	if n != 0 {
		t.Errorf("the server received %d requests for invalid names", n)
	}
}
