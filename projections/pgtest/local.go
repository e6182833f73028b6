package pgtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/keyledger/keyledger/projections/pgcluster"
)

// tempDirPattern names each test binary's cluster directory under os.TempDir.
const tempDirPattern = "keyledger-pgtest-*"

// ownerFile records which test binary owns a cluster directory, so that a
// later run can delete directories whose owner died without cleaning up.
const ownerFile = "owner.pid"

// startLocalCluster starts a throwaway cluster from the machine's binaries in
// a fresh temp dir, which close removes again.
func startLocalCluster(ctx context.Context, logger *slog.Logger) (*server, error) {
	bases := tempBases()
	removeAbandonedDirs(ctx, logger, bases)
	root, err := os.MkdirTemp(bases[0], tempDirPattern)
	if err != nil {
		return nil, fmt.Errorf("create cluster temp dir: %w", err)
	}
	if err := claimDir(root); err != nil {
		return nil, errors.Join(err, os.RemoveAll(root))
	}
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{
		Dir:    filepath.Join(root, "data"),
		Fast:   true,
		Logger: logger,
	})
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(root))
	}
	stop := func(ctx context.Context) error {
		return errors.Join(cluster.Stop(ctx), os.RemoveAll(root))
	}
	srv, err := newServer(ctx, "local test cluster", cluster.URL("postgres"), stop)
	if err != nil {
		return nil, errors.Join(err, stop(context.WithoutCancel(ctx)))
	}
	return srv, nil
}

// memoryDir is a RAM-backed file system on most Linux machines.
const memoryDir = "/dev/shm"

// memoryDirMinFree is the free space /dev/shm needs before the cluster goes
// there: a cluster takes about 40 MB and each live test database about 8 MB,
// and Docker's default 64 MB /dev/shm must not be filled.
const memoryDirMinFree = 1 << 30

// tempBases lists where cluster dirs live, preferred first. Creating a
// database writes some 300 small files; on /dev/shm that takes about 7 ms,
// on the ext4 disk of a 2-core CI machine about 100 ms, and initdb gains too.
// Losing the cluster with the machine's memory costs nothing for tests.
func tempBases() []string {
	bases := []string{os.TempDir()}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(memoryDir, &fs); err != nil {
		return bases
	}
	if uint64(fs.Bavail)*uint64(fs.Bsize) < memoryDirMinFree || syscall.Access(memoryDir, 0o2) != nil {
		return bases
	}
	return append([]string{memoryDir}, bases...)
}

// claimDir opens root to other users (as root, PostgreSQL runs as the
// postgres account and must reach the data dir inside) and records our pid.
func claimDir(root string) error {
	if err := os.Chmod(root, 0o755); err != nil {
		return fmt.Errorf("open cluster temp dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("record cluster owner: %w", err)
	}
	return nil
}

// removeAbandonedDirs deletes cluster temp dirs left by test binaries that
// were killed (a panic or a -timeout ends the binary before Main can clean
// up; the server itself dies with its parent). Directories whose owner or
// server still runs, or that have no owner yet, are left alone.
func removeAbandonedDirs(ctx context.Context, logger *slog.Logger, bases []string) {
	var dirs []string
	for _, base := range bases {
		found, _ := filepath.Glob(filepath.Join(base, tempDirPattern))
		dirs = append(dirs, found...)
	}
	for _, dir := range dirs {
		if !abandoned(dir) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			logger.WarnContext(ctx, "pgtest: could not remove an abandoned cluster dir", "dir", dir, "err", err)
		}
	}
}

func abandoned(dir string) bool {
	owner, err := readPID(filepath.Join(dir, ownerFile))
	if err != nil || alive(owner) {
		return false
	}
	server, err := readPID(filepath.Join(dir, "data", "postmaster.pid"))
	return err != nil || !alive(server)
}

// readPID reads the pid on the first line of path.
func readPID(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid: %w", err)
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("parse pid in %s: %w", path, err)
	}
	return pid, nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
