package pgcluster_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyledger/keyledger/projections/pgcluster"
)

// helperDirEnv makes the test binary act as a caller that starts a cluster and
// then gets killed (see TestServerDiesWithCaller).
const helperDirEnv = "PGCLUSTER_TEST_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		os.Exit(runHelper(dir))
	}
	os.Exit(m.Run())
}

// runHelper starts a cluster, prints its pid and waits to be killed.
func runHelper(dir string) int {
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: dir, Fast: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("port", c.Port())
	select {}
}

// clusterDir returns a fresh cluster directory path. The temp dir is opened to
// other users because, as root, PostgreSQL runs as the postgres account.
func clusterDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	// TempDir makes a 0700 per-test parent as well as the directory itself.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return filepath.Join(dir, "data")
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ tb testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func startCluster(tb testing.TB, opts pgcluster.Options) *pgcluster.Cluster {
	tb.Helper()
	start := time.Now()
	c, err := pgcluster.Start(tb.Context(), opts)
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Logf("cluster start took %v", time.Since(start))
	tb.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			tb.Errorf("stop: %v", err)
		}
	})
	return c
}

func connect(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(tb.Context(), url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestStartConnectStop(t *testing.T) {
	t.Parallel()
	c := startCluster(t, pgcluster.Options{Dir: clusterDir(t), Fast: true, Logger: testLogger(t)})
	conn := connect(t, c.URL("postgres"))

	var fsync, maxConns, listen string
	row := conn.QueryRow(t.Context(), "SELECT current_setting('fsync'), current_setting('max_connections'), current_setting('listen_addresses')")
	if err := row.Scan(&fsync, &maxConns, &listen); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" || listen != "127.0.0.1" {
		t.Errorf("fsync=%s listen_addresses=%s, want off and 127.0.0.1", fsync, listen)
	}
	if n, _ := strconv.Atoi(maxConns); n < 200 {
		t.Errorf("max_connections=%s, want at least 200", maxConns)
	}
	if err := conn.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	if err := c.Stop(t.Context()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := c.Stop(t.Context()); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid still there after Stop: %v", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := clusterDir(t)

	first, err := pgcluster.Start(t.Context(), pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, first.URL("postgres"))
	if _, err := conn.Exec(t.Context(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(t.Context())
	if err := first.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}

	second := startCluster(t, pgcluster.Options{Dir: dir})
	var v string
	if err := connect(t, second.URL("postgres")).QueryRow(t.Context(), "SELECT v FROM kept").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "still here" {
		t.Errorf("got %q after restart", v)
	}
}

func TestStartStopsServerLeftInDir(t *testing.T) {
	t.Parallel()
	dir := clusterDir(t)
	leftover := startCluster(t, pgcluster.Options{Dir: dir, Fast: true})

	c := startCluster(t, pgcluster.Options{Dir: dir, Fast: true})
	if err := connect(t, c.URL("postgres")).Ping(t.Context()); err != nil {
		t.Fatalf("new server: %v", err)
	}
	if conn, err := pgx.Connect(t.Context(), leftover.URL("postgres")); err == nil {
		_ = conn.Close(t.Context())
		t.Errorf("the leftover server on port %d still answers", leftover.Port())
	}
	if err := leftover.Stop(t.Context()); err != nil {
		t.Errorf("stopping an already stopped leftover: %v", err)
	}
}

func TestServerDiesWithCaller(t *testing.T) {
	t.Parallel()
	dir := clusterDir(t)
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperDirEnv+"="+dir)
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = helper.Process.Kill()
		t.Fatalf("helper did not start a cluster: %v", err)
	}
	pidData, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(pidData), "\n", 2)[0])
	t.Logf("helper started postgres pid %d, %s", pid, strings.TrimSpace(line))

	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()

	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("postgres pid %d outlived its killed caller", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	c := startCluster(t, pgcluster.Options{Dir: clusterDir(t), Fast: true})
	want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=disable", c.Port())
	if got := c.URL("app"); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

func TestStartWithTakenPortFails(t *testing.T) {
	t.Parallel()
	first := startCluster(t, pgcluster.Options{Dir: clusterDir(t), Fast: true})
	_, err := pgcluster.Start(t.Context(), pgcluster.Options{Dir: clusterDir(t), Port: first.Port(), Fast: true})
	if err == nil {
		t.Fatal("second cluster on a taken port started")
	}
	t.Logf("error as expected: %v", err)
}

func TestEnsureBinaries(t *testing.T) {
	t.Parallel()
	dir, err := pgcluster.EnsureBinaries(t.Context(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"initdb", "postgres", "pg_ctl"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEnsureDatabaseIsIdempotent(t *testing.T) {
	t.Parallel()
	c := startCluster(t, pgcluster.Options{Dir: clusterDir(t), Fast: true, Logger: testLogger(t)})
	first, err := c.EnsureDatabase(t.Context(), "keyledger")
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.EnsureDatabase(t.Context(), "keyledger")
	if err != nil || again != first {
		t.Fatalf("second EnsureDatabase: %q, %v (first %q)", again, err, first)
	}
	conn := connect(t, first)
	var name string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil || name != "keyledger" {
		t.Fatalf("connected to %q, %v", name, err)
	}
	_ = conn.Close(t.Context())
}
