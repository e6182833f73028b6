package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyledger/keyledger/projections/pgtest"
)

// testMasterKey is a fixed 32-byte master key in hex, for servers started by tests.
const testMasterKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// cleanEnv is the test's environment without KEYLEDGER_* variables, so that a child
// keyledger sees only the configuration the test gives it.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYLEDGER_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// closedPort is a loopback address where nothing listens.
func closedPort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// failedStart is what a keyledger process that could not start left behind.
type failedStart struct {
	code   int
	stderr string
	took   time.Duration
}

// runToFailure runs the binary and waits (bounded) for it to exit.
func runToFailure(tb testing.TB, bin string, env []string, args ...string) failedStart {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		tb.Fatalf("keyledger %s: %v, want an exit code\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return failedStart{code: exitErr.ExitCode(), stderr: stderr.String(), took: took}
}

// checkOneLineReason checks that a failed start exited 1 and said why on the last line
// of stderr, once, with no panic.
func checkOneLineReason(tb testing.TB, f failedStart, want string) {
	tb.Helper()
	lines := strings.Split(strings.TrimRight(f.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	var reasons int
	for _, l := range lines {
		if strings.HasPrefix(l, "keyledger:") {
			reasons++
		}
	}
	switch {
	case f.code != 1:
		tb.Errorf("exit code %d, want 1", f.code)
	case strings.Contains(f.stderr, "panic") || strings.Contains(f.stderr, "goroutine "):
		tb.Errorf("panicked")
	case !strings.HasPrefix(last, "keyledger: ") || !strings.Contains(last, want):
		tb.Errorf("last line %q, want keyledger: …%s…", last, want)
	case reasons != 1:
		tb.Errorf("%d lines start with keyledger:, want 1", reasons)
	default:
		return
	}
	tb.Logf("stderr:\n%s", f.stderr)
}

// TestStartupFailuresSayWhy runs the binary into every start-up failure that needs no
// running server: each ends with exit code 1 and its reason on one line, never a panic.
func TestStartupFailuresSayWhy(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dbURL := "postgres://keyledger@" + closedPort(t) + "/keyledger?sslmode=disable"
	natsURL := "nats://user:hunter2-secret@" + closedPort(t)
	notADir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(notADir, "nats"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notADir, "nats", "jetstream"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	badPEM := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(badPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		args  []string
		env   []string
		want  string
		bound time.Duration // how long the failure may take
	}{
		{
			name: "no master key",
			args: []string{"serve"},
			env:  []string{"KEYLEDGER_DATABASE_URL=" + dbURL},
			want: "no master key: set KEYLEDGER_MASTER_KEY or KEYLEDGER_MASTER_KEY_FILE (or use --dev)",
		},
		{
			name: "two master keys",
			args: []string{"serve", "--master-key", testMasterKey},
			env:  []string{"KEYLEDGER_DATABASE_URL=" + dbURL, "KEYLEDGER_MASTER_KEY_FILE=/run/secrets/master_key"},
			want: "KEYLEDGER_MASTER_KEY and KEYLEDGER_MASTER_KEY_FILE (or --master-key and --master-key-file) are both set: set one",
		},
		{
			name: "replay without a master key",
			args: []string{"replay", "--org", "00000000-0000-0000-0000-000000000000"},
			want: "no master key: set KEYLEDGER_MASTER_KEY or KEYLEDGER_MASTER_KEY_FILE (or use --dev)",
		},
		{
			name: "postgres unreachable",
			args: []string{"serve", "--dev", "--database-url", dbURL},
			want: "open the read models: ",
		},
		{
			name:  "nats unreachable",
			args:  []string{"serve", "--nats-url", natsURL, "--master-key", testMasterKey, "--database-url", dbURL},
			want:  "connect to NATS at nats://" + strings.TrimPrefix(natsURL, "nats://user:hunter2-secret@") + ": ",
			bound: 15 * time.Second,
		},
		{
			name: "missing TLS files",
			args: []string{"serve", "--dev", "--database-url", dbURL, "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"},
			want: "TLS certificate /nonexistent/cert.pem and key /nonexistent/key.pem: open /nonexistent/cert.pem: no such file or directory",
		},
		{
			name: "TLS files without a certificate",
			args: []string{"serve", "--dev", "--database-url", dbURL, "--tls-cert", badPEM, "--tls-key", badPEM},
			want: "failed to find any PEM data in certificate input",
		},
		{
			name:  "embedded JetStream cannot start",
			args:  []string{"serve", "--dev", "--database-url", dbURL, "--data-dir", notADir},
			want:  "Can't start JetStream: storage directory is not a directory",
			bound: 10 * time.Second,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "--data-dir") {
				args = append(args, "--data-dir", t.TempDir())
			}
			f := runToFailure(t, bin, cleanEnv(tc.env...), args...)
			checkOneLineReason(t, f, tc.want)
			if strings.Contains(f.stderr, "hunter2") {
				t.Errorf("a NATS password reached stderr:\n%s", f.stderr)
			}
			if tc.bound > 0 && f.took > tc.bound {
				t.Errorf("took %v, want under %v", f.took, tc.bound)
			}
		})
	}
}

// server is a keyledger serve process started by a test.
type server struct {
	cmd     *exec.Cmd
	baseURL string
	// password is the bootstrap admin's, as the welcome message printed it.
	password string
	// started is when the process was started, ready when it printed its welcome.
	started, ready time.Time
	stderr         *lockedBuffer
	done           chan struct{}
}

// lockedBuffer (serve_tls_proxy_test.go) collects a child's stderr while the test reads it.

// startServer starts `keyledger serve` with args and waits (bounded) until it prints
// its welcome. The process is killed when tb ends, if still running.
func startServer(tb testing.TB, bin string, env []string, args ...string) *server {
	tb.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = env
	s := &server{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		if tb.Failed() {
			tb.Logf("server %d stderr:\n%s", cmd.Process.Pid, s.stderr.String())
		}
	})
	welcome := make(chan error, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stdout)
		said := false
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "Keyledger is running at "); ok {
				s.baseURL = strings.TrimSuffix(u, "/")
				s.ready = time.Now()
			}
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "log in as "); ok {
				if _, pw, ok := strings.Cut(rest, " with password "); ok {
					s.password = pw
				}
			}
			if !said && s.baseURL != "" && line == "" {
				said = true
				welcome <- nil
			}
		}
		if !said {
			welcome <- fmt.Errorf("stdout ended before the welcome: %v", sc.Err())
		}
		_ = cmd.Wait()
	}()
	select {
	case err := <-welcome:
		if err != nil {
			tb.Fatalf("server: %v\nstderr:\n%s", err, s.stderr.String())
		}
	case <-time.After(60 * time.Second):
		tb.Fatalf("server not ready after 60s\nstderr:\n%s", s.stderr.String())
	}
	return s
}

// kill ends the server with SIGKILL, as a crash or the OOM killer would, and waits.
func (s *server) kill(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatal(err)
	}
	<-s.done
}

// TestSecondProcessOnALockedDataDirSaysSo: while serve --dev runs, a second serve and
// the offline commands on the same data dir end at once with the lock's reason, naming
// the process that holds it, as the README promises.
func TestSecondProcessOnALockedDataDirSaysSo(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dbURL := pgtest.NewDatabase(t)
	dataDir := t.TempDir()
	env := cleanEnv()
	first := startServer(t, bin, env, "--dev", "--data-dir", dataDir, "--database-url", dbURL)
	want := fmt.Sprintf("%s is locked by process %d: another keyledger process is using this data directory (stop it, or point both at KEYLEDGER_NATS_URL)",
		filepath.Join(dataDir, "nats"), first.cmd.Process.Pid)
	org := "00000000-0000-0000-0000-000000000000"
	for _, args := range [][]string{
		{"serve", "--dev", "--addr", "127.0.0.1:0"},
		{"replay", "--dev", "--org", org},
		{"audit", "verify", "--dev", "--org", org},
		{"projections", "rebuild", "--dev"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			f := runToFailure(t, bin, env, append(args, "--data-dir", dataDir, "--database-url", dbURL)...)
			checkOneLineReason(t, f, want)
		})
	}
	select {
	case <-first.done:
		t.Fatalf("the first server stopped\nstderr:\n%s", first.stderr.String())
	default:
	}
}

// A start with another master key than the one the installation's keys were sealed
// with is refused in one line: it said it was ready and answered every login and
// token 500 (the log knew why: the keyset is sealed by another key).
func TestStartWithAnotherMasterKeyIsRefused(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dbURL := pgtest.NewDatabase(t)
	dir := t.TempDir()
	first := startServer(t, bin, cleanEnv(), "--addr", "127.0.0.1:0", "--data-dir", dir, "--database-url", dbURL,
		"--master-key", testMasterKey, "--bootstrap-admin-email", "ops@example.com", "--bootstrap-admin-password", "tall-lamp-seven-oaks")
	_ = first.cmd.Process.Kill()
	<-first.done

	other := "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
	f := runToFailure(t, bin, cleanEnv(), "serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--database-url", dbURL, "--master-key", other)
	checkOneLineReason(t, f, "the master key does not open this installation's keys")
	if strings.Contains(f.stderr, other) || strings.Contains(f.stderr, testMasterKey) {
		t.Errorf("a master key reached stderr:\n%s", f.stderr)
	}
	// The right key still opens everything.
	again := startServer(t, bin, cleanEnv(), "--addr", "127.0.0.1:0", "--data-dir", dir, "--database-url", dbURL, "--master-key", testMasterKey)
	if again.baseURL == "" {
		t.Fatal("the right master key did not start the server again")
	}
}

// A new data dir (a new log) on a database built from another log is refused in one
// line: it said it was ready, its projector took the read models from the real
// server's in turns, and its own writes never reached them (the read models'
// checkpoint was past its log's end).
func TestANewLogOnAnotherLogsDatabaseIsRefused(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dbURL := pgtest.NewDatabase(t)
	first := startServer(t, bin, cleanEnv(), "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database-url", dbURL,
		"--master-key", testMasterKey, "--bootstrap-admin-email", "ops@example.com", "--bootstrap-admin-password", "tall-lamp-seven-oaks")
	_ = first.cmd.Process.Kill()
	<-first.done

	f := runToFailure(t, bin, cleanEnv(), "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database-url", dbURL, "--master-key", testMasterKey)
	checkOneLineReason(t, f, "the database was built from another log")
}
