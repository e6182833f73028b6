package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SuperUser is the database superuser initdb creates; every URL connects as it.
const SuperUser = "postgres"

// logFileName is the server log inside the cluster directory, rewritten on each start.
const logFileName = "keyledger-postgres.log"

// startTimeout bounds the wait for a server to accept connections when the
// caller's context has no earlier deadline, so a wedged server cannot hang Start.
const startTimeout = 2 * time.Minute

// portAttempts is how often Start picks a new free port when postgres exits
// during startup, because another process may grab a port between our probe
// and postgres binding it.
const portAttempts = 3

// errExitedEarly marks a server that exited before it accepted connections.
var errExitedEarly = errors.New("postgres exited during startup")

// Options configure Start.
type Options struct {
	// Dir is the cluster (data) directory. An initialized cluster there is
	// reused with its data; an empty or missing directory gets a new one.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Fast trades durability for speed (fsync, synchronous_commit and
	// full_page_writes off): for tests, whose data may be lost on a crash.
	Fast bool
	// BinDir holds initdb, postgres and pg_ctl; empty means EnsureBinaries.
	BinDir string
	// OSUser runs PostgreSQL when the caller is root, which PostgreSQL
	// refuses; empty means "postgres". Ignored for other callers.
	OSUser string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Cluster is a running PostgreSQL server started by Start. Its methods are
// safe for concurrent use.
type Cluster struct {
	dir     string
	port    int
	logger  *slog.Logger
	logFile *os.File
	server  *serverProcess

	stopOnce sync.Once
	stopErr  error
}

// Start initializes the cluster directory if needed and starts PostgreSQL on
// 127.0.0.1, returning once it accepts connections. A server still running in
// the same directory (left by a crashed caller) is stopped first, so the
// cluster always runs with the options given here. Call Stop when done.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	logger := orDiscard(opts.Logger)
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("cluster dir: %w", err)
	}
	binDir := opts.BinDir
	if binDir == "" {
		if binDir, err = EnsureBinaries(ctx, logger); err != nil {
			return nil, err
		}
	}
	own, err := resolveOwner(opts.OSUser)
	if err != nil {
		return nil, err
	}
	if err := prepareDir(dir, own); err != nil {
		return nil, err
	}
	if err := stopLeftover(ctx, dir, binDir, own, logger); err != nil {
		return nil, err
	}
	if err := initIfEmpty(ctx, dir, binDir, own, opts.Fast, logger); err != nil {
		return nil, err
	}
	return launchWithRetry(ctx, dir, binDir, own, opts, logger)
}

// URL returns a connection URL for dbname on this cluster ("postgres" always exists).
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(SuperUser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// Dir returns the absolute cluster directory.
func (c *Cluster) Dir() string { return c.dir }

// Stop shuts the server down with a fast shutdown (open transactions roll
// back, data is checkpointed) and waits for it to exit. If ctx ends first the
// server is shut down immediately instead, and Stop reports it. Calling Stop
// again returns the first result.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		start := time.Now()
		err := c.server.shutdown(ctx)
		if err == nil && c.server.exited() && c.server.err != nil {
			c.logger.WarnContext(ctx, "postgres exited with an error", "err", c.server.err)
		}
		closeErr := c.logFile.Close()
		c.stopErr = errors.Join(err, closeErr)
		c.logger.InfoContext(ctx, "postgres stopped", "dir", c.dir, "took", time.Since(start))
	})
	return c.stopErr
}

// stopLeftover stops a server that still runs in dir, typically from an
// earlier run that could not stop it. A stale postmaster.pid whose pid now
// belongs to another program is removed, because postgres would refuse to start.
func stopLeftover(ctx context.Context, dir, binDir string, own owner, logger *slog.Logger) error {
	pf, err := readPIDFile(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || !processAlive(pf.pid) {
		return nil // postgres itself discards a stale or unreadable lock file
	}
	if !looksLikePostgres(pf.pid) {
		logger.InfoContext(ctx, "removing stale postmaster.pid", "dir", dir, "pid", pf.pid)
		if err := os.Remove(filepath.Join(dir, "postmaster.pid")); err != nil {
			return fmt.Errorf("remove stale postmaster.pid: %w", err)
		}
		return nil
	}
	logger.InfoContext(ctx, "stopping a postgres left running in the cluster dir", "dir", dir, "pid", pf.pid)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pg_ctl"), "stop", "-D", dir, "-m", "fast", "-w", "-t", "60")
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = own.toolSysProcAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("stop leftover postgres (pid %d) in %s: %w\n%s", pf.pid, dir, err, tail(out, 2000))
	}
	return nil
}

// initIfEmpty runs initdb unless dir already holds a cluster.
func initIfEmpty(ctx context.Context, dir, binDir string, own owner, fast bool, logger *slog.Logger) error {
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
		return nil
	}
	start := time.Now()
	args := []string{"-D", dir, "-U", SuperUser, "--auth=trust", "--encoding=UTF8", "--locale=C"}
	if fast {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.SysProcAttr = own.toolSysProcAttr()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", dir, err, tail(out, 2000))
	}
	logger.InfoContext(ctx, "initialized postgres cluster", "dir", dir, "took", time.Since(start))
	return nil
}

// launchWithRetry starts the server, trying other free ports when the port
// was chosen here and postgres could not keep it.
func launchWithRetry(ctx context.Context, dir, binDir string, own owner, opts Options, logger *slog.Logger) (*Cluster, error) {
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			var err error
			if port, err = freePort(ctx); err != nil {
				return nil, err
			}
		}
		c, err := launch(ctx, dir, binDir, own, port, opts.Fast, logger)
		if err == nil {
			return c, nil
		}
		if opts.Port != 0 || attempt == portAttempts || !errors.Is(err, errExitedEarly) {
			return nil, err
		}
		logger.InfoContext(ctx, "postgres did not start, trying another port", "port", port, "err", err)
	}
}

// launch starts postgres on port and waits until it accepts connections.
func launch(ctx context.Context, dir, binDir string, own owner, port int, fast bool, logger *slog.Logger) (*Cluster, error) {
	start := time.Now()
	logPath := filepath.Join(dir, logFileName)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open postgres log: %w", err)
	}
	if own.switchUser {
		_ = logFile.Chown(int(own.uid), int(own.gid))
	}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), serverArgs(dir, port, fast)...)
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = serverSysProcAttr(own)
	server, err := startServerProcess(cmd)
	if err != nil {
		_ = logFile.Close()
		return nil, err
	}
	if err := waitReady(ctx, dir, server); err != nil {
		server.kill()
		_ = logFile.Close()
		logText, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("postgres in %s on port %d: %w\n%s", dir, port, err, tail(logText, 2000))
	}
	logger.InfoContext(ctx, "postgres started", "dir", dir, "port", port, "fast", fast, "took", time.Since(start))
	return &Cluster{dir: dir, port: port, logger: logger, logFile: logFile, server: server}, nil
}

// serverArgs are postgres's command-line settings. They override
// postgresql.conf, so a reused cluster runs with this start's options.
func serverArgs(dir string, port int, fast bool) []string {
	args := []string{
		"-D", dir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + socketDir(dir),
		"-c", "max_connections=200",
		"-c", "logging_collector=off",
	}
	if fast {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
		)
	}
	return args
}

// socketDir keeps the unix socket inside the cluster directory, or disables
// it (TCP only) when that path would exceed the 107-byte socket path limit.
func socketDir(dir string) string {
	if len(dir)+len("/.s.PGSQL.65535") > 100 {
		return ""
	}
	return dir
}

// serverEnv is the caller's environment without PG* variables, which would
// otherwise change where initdb, postgres and pg_ctl look.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady polls postmaster.pid until this process reports "ready".
func waitReady(ctx context.Context, dir string, server *serverProcess) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		pf, err := readPIDFile(dir)
		if err == nil && pf.pid == server.cmd.Process.Pid && pf.status == "ready" {
			return nil
		}
		select {
		case <-server.done:
			return fmt.Errorf("%w: %v", errExitedEarly, server.err)
		case <-ctx.Done():
			return fmt.Errorf("wait for postgres to accept connections: %w", ctx.Err())
		case <-ticker.C:
		}
	}
}

// freePort asks the kernel for an unused port on 127.0.0.1. Another process
// may take it before postgres binds it; launchWithRetry handles that.
func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}
