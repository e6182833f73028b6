package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/projections/pgtest"
)

// lockedBuffer is an io.Writer the server goroutine writes to while the test reads.
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

// startServe runs `keyledger serve` on a free loopback port with the given variables
// (plus a database, a master key and a bootstrap admin) and returns its base URL.
func startServe(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	env := map[string]string{
		"KEYLEDGER_DATABASE_URL":             pgtest.NewDatabase(t),
		"KEYLEDGER_MASTER_KEY":               strings.Repeat("ab", 32),
		"KEYLEDGER_BOOTSTRAP_ADMIN_EMAIL":    "admin@example.com",
		"KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD": "tall-lamp-seven-oaks",
		"KEYLEDGER_LOG_LEVEL":                "warn",
	}
	for k, v := range vars {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	argv := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)
	go func() { done <- run(ctx, argv, &stdout, &stderr, func(k string) string { return env[k] }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	running := regexp.MustCompile(`running at (http://\S+?)/`)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if m := running.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start:\n%s", stderr.String())
	return ""
}

// login logs the bootstrap admin in and returns the response, body drained.
func login(t *testing.T, base string) *http.Response {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email": "admin@example.com", "password": "tall-lamp-seven-oaks"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return resp
}

// TestBehindTLSProxy: behind a load balancer that terminates TLS the server speaks
// plain HTTP, yet the browser is on HTTPS: the setting (flag or variable) makes the
// session cookies Secure and sends HSTS; without it, plain HTTP stays as it was.
func TestBehindTLSProxy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		vars   map[string]string
		args   []string
		secure bool
	}{
		{"variable", map[string]string{"KEYLEDGER_BEHIND_TLS_PROXY": "true"}, nil, true},
		{"flag", nil, []string{"--behind-tls-proxy"}, true},
		{"unset", nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := login(t, startServe(t, tc.vars, tc.args...))
			cookies := resp.Cookies()
			if len(cookies) != 2 {
				t.Fatalf("cookies %v", resp.Header.Values("Set-Cookie"))
			}
			for _, c := range cookies {
				if c.Secure != tc.secure || c.SameSite != http.SameSiteStrictMode || c.HttpOnly != (c.Name == "keyledger_session") {
					t.Errorf("cookie %s: Secure %v HttpOnly %v SameSite %v, want Secure %v", c.Name, c.Secure, c.HttpOnly, c.SameSite, tc.secure)
				}
			}
			if hsts := resp.Header.Get("Strict-Transport-Security"); (hsts != "") != tc.secure {
				t.Errorf("Strict-Transport-Security %q, want it: %v", hsts, tc.secure)
			}
		})
	}
}

func TestBehindTLSProxyRefusesAValueThatIsNotABoolean(t *testing.T) {
	t.Parallel()
	_, c := serverFlags("serve", io.Discard, func(k string) string {
		if k == "KEYLEDGER_BEHIND_TLS_PROXY" {
			return "yes please"
		}
		return ""
	})
	if err := c.finish(); err == nil || !strings.Contains(err.Error(), "KEYLEDGER_BEHIND_TLS_PROXY") {
		t.Fatalf("finish: %v", err)
	}
}
