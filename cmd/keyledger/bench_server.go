package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keyledger/keyledger/projections/pgcluster"
)

// benchDatabase is the empty database the benchmark's server keeps its read models in.
type benchDatabase struct {
	url   string
	kind  string // what it is, for the report; never the URL, which may hold a password
	close func(context.Context) error
}

// openBenchDatabase finds PostgreSQL the way the tests do (projections/pgtest): a URL
// given to the bench, else a new database on KEYLEDGER_TEST_DATABASE_URL, else a
// throwaway cluster from the machine's binaries in dir, tuned like the test cluster.
// Docker is not tried: the bench is part of the production binary, and pgtest's
// container path pulls testcontainers in.
func openBenchDatabase(ctx context.Context, given string, getenv func(string) string, dir string, logger *slog.Logger) (*benchDatabase, error) {
	noop := func(context.Context) error { return nil }
	if given != "" {
		// A database that already holds read models belongs to another log: the fresh
		// server's projector would start from someone else's checkpoint.
		if err := requireEmptyDatabase(ctx, given); err != nil {
			return nil, err
		}
		return &benchDatabase{url: given, kind: "given database", close: noop}, nil
	}
	if admin := getenv("KEYLEDGER_TEST_DATABASE_URL"); admin != "" {
		return createBenchDatabase(ctx, admin, logger)
	}
	logger.Info("bench: starting a throwaway PostgreSQL cluster", "dir", dir)
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("bench: start PostgreSQL: %w", err)
	}
	u, err := cluster.EnsureDatabase(ctx, "keyledger")
	if err != nil {
		return nil, errors.Join(err, cluster.Stop(context.WithoutCancel(ctx)))
	}
	return &benchDatabase{url: u, kind: "throwaway cluster (fsync off, like the test cluster)", close: cluster.Stop}, nil
}

// requireEmptyDatabase refuses a database that has tables of its own.
func requireEmptyDatabase(ctx context.Context, dbURL string) error {
	tables, err := pgcluster.UserTables(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("bench: inspect the database: %w", err)
	}
	if tables > 0 {
		return fmt.Errorf("bench: the database given has %d tables; the bench needs an empty one", tables)
	}
	return nil
}

// createBenchDatabase creates a uniquely named database on the server of adminURL and
// drops it again on close.
func createBenchDatabase(ctx context.Context, adminURL string, logger *slog.Logger) (*benchDatabase, error) {
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "keyledger_bench_" + hex.EncodeToString(suffix)
	u, drop, err := pgcluster.CreateDatabase(ctx, adminURL, name)
	if err != nil {
		return nil, fmt.Errorf("bench: database on KEYLEDGER_TEST_DATABASE_URL: %w", err)
	}
	logger.Info("bench: created database", "name", name)
	return &benchDatabase{url: u, kind: "new database on KEYLEDGER_TEST_DATABASE_URL", close: drop}, nil
}

// benchServer is `keyledger serve --dev` running as a child process.
type benchServer struct {
	cmd      *exec.Cmd
	pid      int
	baseURL  string
	email    string
	password string
	logPath  string
	exited   chan struct{}
	waitErr  error
}

// serverStartTimeout bounds start-up: migrations, NATS and the bootstrap admin.
const serverStartTimeout = 2 * time.Minute

// startBenchServer runs binary as a dev server on a free loopback port with its data in
// dataDir, and returns once it answers /readyz. The child gets none of the caller's
// KEYLEDGER_ variables, so that a developer's settings (an external NATS, a master key)
// cannot leak into the measurement.
func startBenchServer(ctx context.Context, binary, dataDir, dbURL string, logger *slog.Logger) (*benchServer, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: data dir: %w", err)
	}
	pw := make([]byte, 18)
	_, _ = rand.Read(pw)
	s := &benchServer{
		email:    "bench@keyledger.local",
		password: hex.EncodeToString(pw),
		logPath:  filepath.Join(filepath.Dir(dataDir), "server.log"),
		exited:   make(chan struct{}),
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: server log: %w", err)
	}
	s.cmd = exec.Command(binary, "serve", "--dev", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--bootstrap-admin-email", s.email, "--log-level", "warn")
	s.cmd.Env = append(withoutVars(os.Environ(), "KEYLEDGER_"),
		"KEYLEDGER_DATABASE_URL="+dbURL,
		"KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD="+s.password)
	s.cmd.Stderr = logFile
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench: %w", err), logFile.Close())
	}
	if err := s.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("bench: start %s serve: %w", binary, err), logFile.Close())
	}
	s.pid = s.cmd.Process.Pid
	addr := make(chan string, 1)
	go s.readStdout(stdout, addr)
	go func() {
		s.waitErr = s.cmd.Wait()
		_ = logFile.Close()
		close(s.exited)
	}()
	logger.Info("bench: server starting", "pid", s.pid, "log", s.logPath)
	if err := s.awaitReady(ctx, addr); err != nil {
		return nil, errors.Join(err, s.stop(context.WithoutCancel(ctx)))
	}
	logger.Info("bench: server ready", "url", s.baseURL)
	return s, nil
}

// withoutVars drops the variables with any of prefixes from env.
func withoutVars(env []string, prefixes ...string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// readStdout hands the URL of the welcome line to addr, then drains the pipe so the
// child never blocks on a full one.
func (s *benchServer) readStdout(r io.Reader, addr chan<- string) {
	const marker = "Keyledger is running at "
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), marker); ok {
			addr <- strings.TrimSuffix(rest, "/")
			break
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// awaitReady waits for the welcome line, then for /readyz to answer 200.
func (s *benchServer) awaitReady(ctx context.Context, addr <-chan string) error {
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	select {
	case s.baseURL = <-addr:
	case <-s.exited:
		return fmt.Errorf("bench: the server exited during start-up (%v): %s", s.waitErr, s.logTail())
	case <-ctx.Done():
		return fmt.Errorf("bench: the server did not start: %w; %s", ctx.Err(), s.logTail())
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("bench: the server exited during start-up (%v): %s", s.waitErr, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("bench: the server never became ready: %w; %s", ctx.Err(), s.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// logTail is the end of the server's log, for an error that says why it failed.
func (s *benchServer) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "no server log"
	}
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return "server log ends: " + strings.TrimSpace(string(b))
}

// serverStopTimeout is how long a SIGTERMed server may take before it is killed.
const serverStopTimeout = 30 * time.Second

// stop asks the server to shut down and kills it if it does not in time.
func (s *benchServer) stop(ctx context.Context) error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("bench: stop the server: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, serverStopTimeout)
	defer cancel()
	select {
	case <-s.exited:
		return nil
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("bench: the server did not stop within %v and was killed", serverStopTimeout)
	}
}

// procStats is what the kernel says about the server process.
type procStats struct {
	rss        int64 // bytes
	peakRSS    int64 // bytes, VmHWM
	cpuSeconds float64
	// machineBusy and machineTotal are the whole machine's CPU ticks (every process,
	// PostgreSQL and the benchmark's own clients too) spent busy and in all, from
	// /proc/stat; 0 when it cannot be read.
	machineBusy, machineTotal int64
	// postgres is the CPU ticks of this machine's processes named postgres, by pid:
	// the PostgreSQL server's backends when it runs here (none when it runs elsewhere).
	postgres map[int]int64
}

// clockTicksPerSecond is USER_HZ, the unit of /proc/<pid>/stat's CPU times. It is 100
// on every Linux architecture Go supports, and reading sysconf would need cgo.
const clockTicksPerSecond = 100

// stats reads the server's RSS and CPU time from /proc.
func (s *benchServer) stats() (procStats, error) {
	return readProcStats(s.pid)
}

func readProcStats(pid int) (procStats, error) {
	var st procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, fmt.Errorf("bench: server status: %w", err)
	}
	for line := range strings.Lines(string(status)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "VmRSS":
			st.rss = parseKB(value)
		case "VmHWM":
			st.peakRSS = parseKB(value)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, fmt.Errorf("bench: server stat: %w", err)
	}
	_, ticks, err := parseStat(stat)
	if err != nil {
		return st, fmt.Errorf("bench: server stat: %w", err)
	}
	st.cpuSeconds = float64(ticks) / clockTicksPerSecond
	st.machineBusy, st.machineTotal = readMachineTicks()
	st.postgres = readProcessTicks("/proc", "postgres")
	return st, nil
}

// readProcessTicks is the CPU ticks (user + system) of the processes under proc (the
// /proc directory) whose command is name, by pid. Unreadable entries are left out: the
// figure is informative only.
func readProcessTicks(proc, name string) map[int]int64 {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	out := map[int]int64{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue
		}
		if comm, ticks, err := parseStat(stat); err == nil && comm == name {
			out[pid] = ticks
		}
	}
	return out
}

// parseStat reads a process's command and CPU ticks (user + system) from its
// /proc/<pid>/stat: "pid (comm) state …", where comm may hold spaces and parentheses
// and the fields after it do not.
func parseStat(stat []byte) (comm string, ticks int64, err error) {
	open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return "", 0, errors.New("no command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// After the name: state is field 3 of proc(5), utime 14 and stime 15.
	if len(fields) < 13 {
		return "", 0, errors.New("too few fields")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return "", 0, err
	}
	return string(stat[open+1 : end]), utime + stime, nil
}

// ticksSince is the CPU ticks the processes in after used since before: a process
// that started in between counts in full, one that ended in between not at all.
func ticksSince(before, after map[int]int64) int64 {
	var n int64
	for pid, t := range after {
		n += max(t-before[pid], 0)
	}
	return n
}

// readMachineTicks reads the machine's busy and total CPU ticks from the first line
// of /proc/stat ("cpu user nice system idle iowait irq softirq steal ..."): idle and
// iowait are not busy. Zeros when it cannot be read: the figure is informative only.
func readMachineTicks() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	for i, f := range fields[1:] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, 0
		}
		if i >= 8 { // guest and guest_nice are counted in user and nice already
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// parseKB reads " 1234 kB" as bytes; a malformed value is 0.
func parseKB(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return n * 1024
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
