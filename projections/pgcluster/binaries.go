package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrBinariesNotFound reports that no PostgreSQL server binaries (initdb,
// postgres, pg_ctl) were found and they could not be installed.
var ErrBinariesNotFound = errors.New("postgresql server binaries not found")

// requiredBinaries are the programs a cluster needs from one directory.
var requiredBinaries = []string{"initdb", "postgres", "pg_ctl"}

// debianBinRoot holds one bin directory per installed PostgreSQL major version
// on Debian and Ubuntu, which do not put the server binaries on PATH.
const debianBinRoot = "/usr/lib/postgresql"

// EnsureBinaries returns the directory holding initdb, postgres and pg_ctl.
//
// It looks at `pg_config --bindir`, then PATH, then the newest
// /usr/lib/postgresql/<version>/bin. When none has them and the process runs as
// root on a machine with apt-get, it installs Debian's postgresql package
// (non-interactively) and looks again; otherwise the error says what to install.
func EnsureBinaries(ctx context.Context, logger *slog.Logger) (string, error) {
	logger = orDiscard(logger)
	if dir, err := findBinaries(ctx); err == nil {
		return dir, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: install the PostgreSQL server (Debian/Ubuntu: sudo apt-get install postgresql; "+
			"Fedora: dnf install postgresql-server; macOS: brew install postgresql) or put its bin directory on PATH", ErrBinariesNotFound)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", fmt.Errorf("%w and apt-get is not available to install them: install the PostgreSQL server package", ErrBinariesNotFound)
	}
	if err := installWithAPT(ctx, logger); err != nil {
		return "", err
	}
	dir, err := findBinaries(ctx)
	if err != nil {
		return "", fmt.Errorf("after installing postgresql: %w", err)
	}
	return dir, nil
}

// findBinaries returns the first candidate directory that holds every required binary.
func findBinaries(ctx context.Context) (string, error) {
	var candidates []string
	if dir, err := pgConfigBinDir(ctx); err == nil {
		candidates = append(candidates, dir)
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(path); err == nil {
			candidates = append(candidates, filepath.Dir(resolved))
		}
		candidates = append(candidates, filepath.Dir(path))
	}
	candidates = append(candidates, debianBinDirs()...)
	for _, dir := range candidates {
		if hasBinaries(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w (looked in pg_config --bindir, PATH and %s/*/bin)", ErrBinariesNotFound, debianBinRoot)
}

// pgConfigBinDir asks pg_config where the server binaries live. On Debian
// pg_config comes with libpq-dev and may answer even when the server is absent,
// so the caller still checks that the binaries exist.
func pgConfigBinDir(ctx context.Context) (string, error) {
	path, err := exec.LookPath("pg_config")
	if err != nil {
		return "", fmt.Errorf("find pg_config: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--bindir").Output()
	if err != nil {
		return "", fmt.Errorf("run pg_config --bindir: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// debianBinDirs lists /usr/lib/postgresql/<version>/bin, newest version first.
func debianBinDirs() []string {
	entries, err := os.ReadDir(debianBinRoot)
	if err != nil {
		return nil
	}
	type versioned struct {
		version float64
		dir     string
	}
	var found []versioned
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64)
		if err != nil {
			continue
		}
		found = append(found, versioned{version: v, dir: filepath.Join(debianBinRoot, e.Name(), "bin")})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].version > found[j].version })
	dirs := make([]string, 0, len(found))
	for _, f := range found {
		dirs = append(dirs, f.dir)
	}
	return dirs
}

// hasBinaries reports whether dir holds an executable file for every required binary.
func hasBinaries(dir string) bool {
	if dir == "" {
		return false
	}
	for _, name := range requiredBinaries {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// installWithAPT installs Debian's postgresql package. A lock file serialises
// installs, because `go test ./...` runs several test binaries that may all find
// the binaries missing at the same moment, and dpkg allows one install at a time.
func installWithAPT(ctx context.Context, logger *slog.Logger) error {
	unlock, err := lockFile(ctx, filepath.Join(os.TempDir(), "keyledger-postgresql-install.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := findBinaries(ctx); err == nil {
		return nil // another process installed them while we waited for the lock
	}
	logger.InfoContext(ctx, "installing PostgreSQL server binaries with apt-get (running as root)")
	for _, args := range [][]string{
		{"update"},
		{"install", "-y", "--no-install-recommends", "postgresql"},
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdin = nil
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(out, 2000))
		}
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can end the wait.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail returns at most the last n bytes of out, for error messages.
func tail(out []byte, n int) string {
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.TrimSpace(string(out))
}

// orDiscard returns logger, or a logger that drops everything when it is nil.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
