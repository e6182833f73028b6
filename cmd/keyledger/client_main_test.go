package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/keyledger/keyledger/projections/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// cliHarness is a running API with alice, owner of Acme, and an environment for the
// CLI: its own HOME, config and cache directories, and KEYLEDGER_SERVER.
type cliHarness struct {
	env   *apitest.Env
	alice *apitest.Client
	org   apitest.Org
	dir   string
	vars  map[string]string
}

func newCLIHarness(t *testing.T) *cliHarness {
	t.Helper()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	dir := t.TempDir()
	return &cliHarness{env: env, alice: alice, org: org, dir: dir, vars: map[string]string{
		"HOME":             dir,
		"XDG_CONFIG_HOME":  filepath.Join(dir, "config"),
		"XDG_CACHE_HOME":   filepath.Join(dir, "cache"),
		"KEYLEDGER_SERVER": env.BaseURL,
	}}
}

// withToken returns the harness's environment with KEYLEDGER_TOKEN set.
func (h *cliHarness) withToken(token string) *cliHarness {
	cp := *h
	cp.vars = map[string]string{"KEYLEDGER_TOKEN": token}
	for k, v := range h.vars {
		if k != "KEYLEDGER_TOKEN" {
			cp.vars[k] = v
		}
	}
	return &cp
}

func (h *cliHarness) getenv(name string) string { return h.vars[name] }

// cliResult is what one command did.
type cliResult struct {
	stdout, stderr string
	// code is what the command passed to exit (-1: it did not call it).
	code int
	err  error
}

// cli runs a client command with stdin, the way main's run dispatches it.
func (h *cliHarness) cli(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	res := cliResult{code: -1}
	var r io.Reader
	if stdin != "" {
		r = strings.NewReader(stdin)
	}
	res.err = clientCommand(ctx, args, r, &stdout, &stderr, h.getenv, func(code int) { res.code = code })
	res.stdout, res.stderr = stdout.String(), stderr.String()
	return res
}

// main runs args through main's run, as the binary would (without standard input).
func (h *cliHarness) main(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, &stdout, &stderr, h.getenv)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: -1, err: err}
}

// ok fails the test unless the command succeeded, and returns its output.
func (r cliResult) ok(t *testing.T) cliResult {
	t.Helper()
	if r.err != nil {
		t.Fatalf("command failed: %v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
	}
	return r
}

// failed fails the test unless the command failed with an error that says want.
func (r cliResult) failed(t *testing.T, want string) {
	t.Helper()
	if r.err == nil || !strings.Contains(r.err.Error(), want) {
		t.Fatalf("error %v, want one that says %q (stdout %q, stderr %q)", r.err, want, r.stdout, r.stderr)
	}
}

// apiClient is a client of the package under the harness, acting with token.
func (h *cliHarness) apiClient(t *testing.T, token string) *client.Client {
	t.Helper()
	c, err := client.New(h.env.BaseURL, client.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seed gives Acme secrets with values that need care in every format.
func (h *cliHarness) seed(t *testing.T) {
	t.Helper()
	h.alice.CreateSecret(t, h.org.ID, "DATABASE_URL", map[string]string{"production": "postgres://prod/db?sslmode=require", "staging": "postgres://stg"})
	h.alice.CreateSecret(t, h.org.ID, "TRICKY", map[string]string{"production": trickyValue})
}

// trickyValue has a newline, both quotes, $, #, a backslash and a backtick.
const trickyValue = "line one\nit's \"quoted\" $HOME ${PATH} #not-a-comment \\n `id`"
