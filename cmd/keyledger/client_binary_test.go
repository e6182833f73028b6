package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds keyledger into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	bin := filepath.Join(t.TempDir(), "keyledger")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestRunBinary runs `keyledger run` as a process: the child's exit code becomes the
// process's, a SIGTERM sent to keyledger reaches the child, and start-up is timed.
func TestRunBinary(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	h := newCLIHarness(t)
	h.seed(t)
	environ := append(os.Environ(), "KEYLEDGER_TOKEN="+h.alice.Token, "KEYLEDGER_SERVER="+h.env.BaseURL,
		"XDG_CONFIG_HOME="+h.vars["XDG_CONFIG_HOME"], "XDG_CACHE_HOME="+h.vars["XDG_CACHE_HOME"])
	keyledger := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"run", "--org", h.org.ID, "--env", "production", "--"}, args...)...)
		cmd.Env = environ
		return cmd
	}

	out, err := keyledger("sh", "-c", `printf %s "$DATABASE_URL"; exit 7`).Output()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 7 || string(out) != "postgres://prod/db?sslmode=require" {
		t.Fatalf("exit %v, stdout %q", err, out)
	}

	cmd := keyledger("sh", "-c", `trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done`)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); !errors.As(err, &exitErr) || exitErr.ExitCode() != 42 {
		t.Fatalf("after SIGTERM: %v", err)
	}

	// Start-up: from exec of keyledger to the end of `true`, which exits at once.
	const runs = 20
	var took []time.Duration
	for range runs {
		start := time.Now()
		if out, err := keyledger("true").CombinedOutput(); err != nil {
			t.Fatalf("run true: %v\n%s", err, out)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("keyledger run -- true, %d runs: min %v, median %v, max %v (test server, race detector on in go test -race)",
		runs, took[0], took[runs/2], took[runs-1])
	if took[runs/2] > 300*time.Millisecond {
		t.Errorf("median start-up %v, want well under 300 ms", took[runs/2])
	}
}
