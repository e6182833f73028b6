package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
)

// printVars is a child that prints two variables and exits with 3.
var printVars = []string{"--", "sh", "-c", `printf '%s|%s' "$DATABASE_URL" "$TRICKY"; exit 3`}

func TestRunPassesValuesAndTheExitCode(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	h.seed(t)
	a := h.withToken(h.alice.Token)

	res := a.cli(t, "", append([]string{"run", "--org", "Acme", "--env", "production"}, printVars...)...).ok(t)
	if res.stdout != "postgres://prod/db?sslmode=require|"+trickyValue || res.code != 3 {
		t.Fatalf("child printed %q and exited %d", res.stdout, res.code)
	}
	if res.stderr != "" {
		t.Errorf("run printed %q on stderr", res.stderr)
	}
	// Exit code 0 calls no exit; staging has no TRICKY.
	res = a.cli(t, "", "run", "--org", h.org.ID, "--env", "staging", "--", "sh", "-c", `printf '%s|%s' "$DATABASE_URL" "${TRICKY-unset}"`).ok(t)
	if res.stdout != "postgres://stg|unset" || res.code != -1 {
		t.Fatalf("staging child printed %q and exited %d", res.stdout, res.code)
	}
	// Through main's dispatch, as the binary runs it.
	if out := a.main(t, "run", "--org", "Acme", "--env", "prod", "--", "sh", "-c", `printf %s "$DATABASE_URL"`).ok(t); out.stdout != "postgres://prod/db?sslmode=require" {
		t.Fatalf("through run: %q", out.stdout)
	}

	// A service token takes its organization's id or name, and only reaches its environments.
	ctx := context.Background()
	issued, err := h.apiClient(t, h.alice.Token).CreateServiceToken(ctx, h.org.ID, client.CreateServiceTokenRequest{Name: "ci", Environments: []string{"production"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := h.withToken(issued.Token)
	res = svc.cli(t, "", append([]string{"run", "--org", h.org.ID, "--env", "production"}, printVars...)...).ok(t)
	if !strings.HasPrefix(res.stdout, "postgres://prod/db") || res.code != 3 {
		t.Fatalf("with a service token: %q, %d", res.stdout, res.code)
	}
	if res = svc.cli(t, "", append([]string{"run", "--org", "Acme", "--env", "production"}, printVars...)...).ok(t); !strings.HasPrefix(res.stdout, "postgres://prod/db") {
		t.Fatalf("with a service token and the organization's name: %q", res.stdout)
	}
	svc.cli(t, "", "run", "--org", h.org.ID, "--env", "staging", "--", "true").failed(t, "not scoped to staging")

	a.cli(t, "", "run", "--org", "Acme", "--env", "production").failed(t, "usage")
}

func TestRunCannotStartTheCommand(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	a := h.withToken(h.alice.Token)
	res := a.cli(t, "", "run", "--org", "Acme", "--env", "dev", "--", "no-such-command-keyledger").ok(t)
	if res.code != exitNotFound || !strings.Contains(res.stderr, "cannot run no-such-command-keyledger") {
		t.Fatalf("code %d, stderr %q", res.code, res.stderr)
	}
	notExec := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := a.cli(t, "", "run", "--org", "Acme", "--env", "dev", "--", notExec).ok(t); res.code != exitCannotExecute {
		t.Fatalf("code %d for a file that is not executable", res.code)
	}
}

func TestRunFallsBackToTheCacheWhenTheServerIsDown(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	h.seed(t)
	a := h.withToken(h.alice.Token)
	runArgs := append([]string{"run", "--org", "Acme", "--env", "production", "--fallback"}, printVars...)

	a.cli(t, "", runArgs...).ok(t)
	files, _ := filepath.Glob(filepath.Join(h.vars["XDG_CACHE_HOME"], "keyledger", "fallback", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
	assertMode(t, files[0], 0o600)
	assertMode(t, filepath.Dir(files[0]), 0o700|os.ModeDir)
	raw, _ := os.ReadFile(files[0])
	if bytes.Contains(raw, []byte("postgres://")) || bytes.Contains(raw, []byte("DATABASE_URL")) {
		t.Fatal("the cache holds a value or a name in clear")
	}

	// The server goes away: connection refused.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.env.Server.ShutdownWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	res := a.cli(t, "", runArgs...).ok(t)
	if res.stdout != "postgres://prod/db?sslmode=require|"+trickyValue || res.code != 3 {
		t.Fatalf("from the cache the child printed %q and exited %d", res.stdout, res.code)
	}
	if !strings.Contains(res.stderr, "cannot reach the Keyledger server") || !strings.Contains(res.stderr, "using the fallback cache") ||
		strings.Contains(res.stderr, "postgres://") {
		t.Errorf("stderr %q", res.stderr)
	}
	// Without --fallback an outage is an error; the cache does not open with another
	// token, nor for another environment.
	a.cli(t, "", "run", "--org", "Acme", "--env", "production", "--", "true").failed(t, "connection refused")
	h.withToken("kl_pat_other").cli(t, "", runArgs...).failed(t, "does not open with this token")
	a.cli(t, "", "run", "--org", "Acme", "--env", "staging", "--fallback", "--", "true").failed(t, "no fallback cache")
}

// After a revocation the next run fails with the server's sentence; with --fallback it
// starts from the cache of the last successful fetch and says why (issue 5).
func TestRunAfterRevocation(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	h.seed(t)
	ctx := context.Background()
	alice := h.apiClient(t, h.alice.Token)
	pat, err := alice.CreatePersonalToken(ctx, client.CreatePersonalTokenRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	p := h.withToken(pat.Token)
	file := filepath.Join(t.TempDir(), "cache.json")
	child := []string{"--", "sh", "-c", "printf %s \"$DATABASE_URL\""}
	withCache := append([]string{"run", "--org", h.org.ID, "--env", "production", "--fallback-file", file}, child...)
	first := p.cli(t, "", withCache...)
	first.ok(t)
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("no cache after a successful run: %v", err)
	}
	if err := alice.RevokePersonalToken(ctx, pat.ID); err != nil {
		t.Fatal(err)
	}
	res := p.cli(t, "", withCache...)
	res.failed(t, "The token is invalid, expired or revoked.")
	if res.code != -1 {
		t.Fatalf("the child ran (code %d)", res.code)
	}
	fallback := append([]string{"run", "--org", h.org.ID, "--env", "production", "--fallback", "--fallback-file", file}, child...)
	res = p.cli(t, "", fallback...)
	if res.code != -1 || res.stdout != first.stdout || res.stdout == "" {
		t.Fatalf("--fallback after revocation: code %d, stdout %q (first run %q), stderr %q", res.code, res.stdout, first.stdout, res.stderr)
	}
	if !strings.Contains(res.stderr, "The token is invalid, expired or revoked.") || !strings.Contains(res.stderr, "using the fallback cache") {
		t.Fatalf("stderr does not say why the cache was used: %q", res.stderr)
	}
}

func TestChildEnvironment(t *testing.T) {
	t.Parallel()
	got, err := childEnvironment([]string{"PATH=/bin", "TOKEN=old", "X=1=2"}, map[string]string{"TOKEN": "new", "A": "a\nb"})
	if err != nil || strings.Join(got, ";") != "PATH=/bin;X=1=2;A=a\nb;TOKEN=new" {
		t.Fatalf("env %q, %v", got, err)
	}
	if _, err := childEnvironment(nil, map[string]string{"BAD": "a\x00b"}); err == nil || strings.Contains(err.Error(), "a\x00b") {
		t.Fatalf("NUL: %v", err)
	}
}

func TestFallbackCacheNeedsTheToken(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string { return map[string]string{"XDG_CACHE_HOME": t.TempDir()}[k] }
	c, err := newFallbackCache(getenv, "", "http://127.0.0.1:1", "Acme", "production")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.read("kl_pat_a"); err != errNoFallback {
		t.Fatalf("empty cache: %v", err)
	}
	want := fallbackPayload{Values: map[string]string{"A": "secret"}, Seq: 7, FetchedAt: time.Unix(1700000000, 0).UTC()}
	if err := c.write("kl_pat_a", want); err != nil {
		t.Fatal(err)
	}
	got, err := c.read("kl_pat_a")
	if err != nil || got.Values["A"] != "secret" || got.Seq != 7 || !got.FetchedAt.Equal(want.FetchedAt) {
		t.Fatalf("read %+v, %v", got, err)
	}
	if _, err := c.read("kl_pat_b"); err == nil {
		t.Fatal("opened with another token")
	}
	// The same file under another identity (org, env or server) does not open.
	other, _ := newFallbackCache(getenv, c.path, "http://127.0.0.1:1", "Acme", "staging")
	if _, err := other.read("kl_pat_a"); err == nil {
		t.Fatal("opened as another environment")
	}
}

// TestSuperviseForwardsSignals sends signals to this test process while a child
// runs: supervise must pass them on. It does not run in parallel, so no other test's
// child gets them.
func TestSuperviseForwardsSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			cmd := exec.Command("sh", "-c", `trap 'echo got; exit 42' INT TERM HUP; echo ready >&3; while :; do sleep 0.05; done`)
			cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = &stdout, &stderr, []*os.File{w}
			cl := cli{stdout: &stdout, stderr: &stderr}
			go func() {
				buf := make([]byte, 6)
				if _, err := r.Read(buf); err == nil {
					_ = syscall.Kill(os.Getpid(), sig)
				}
			}()
			code, err := cl.supervise(cmd, true, func() { w.Close() })
			if err != nil || code != 42 || stdout.String() != "got\n" {
				t.Fatalf("code %d, err %v, stdout %q, stderr %q", code, err, stdout.String(), stderr.String())
			}
		})
	}
}

func TestExitCodeOfASignalledChild(t *testing.T) {
	t.Parallel()
	cl := cli{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	code, err := cl.supervise(exec.Command("sh", "-c", "kill -KILL $$"), false, func() {})
	if err != nil || code != 128+9 {
		t.Fatalf("code %d, %v", code, err)
	}
}
