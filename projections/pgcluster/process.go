package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverProcess is a running postgres child and the news of its exit.
type serverProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // the exit result; read only after done is closed
}

// startServerProcess starts cmd from a goroutine locked to its OS thread and
// keeps that goroutine waiting for the process. Linux delivers the
// parent-death signal when the *thread* that forked the child exits, and the
// Go runtime may retire threads; a locked, waiting goroutine keeps the thread.
func startServerProcess(cmd *exec.Cmd) (*serverProcess, error) {
	p := &serverProcess{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return p, nil
}

// exited reports whether the process has ended.
func (p *serverProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// shutdown asks for a fast shutdown (SIGINT: roll back open transactions,
// checkpoint, exit) and waits. When ctx ends first it escalates to an
// immediate shutdown (SIGQUIT) and finally SIGKILL, so it never leaves the
// process behind.
func (p *serverProcess) shutdown(ctx context.Context) error {
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !p.exited() {
		return fmt.Errorf("signal postgres: %w", err)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
	}
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return fmt.Errorf("fast shutdown did not finish in time, forced: %w", ctx.Err())
}

// kill ends the process at once; for a server that never became ready.
func (p *serverProcess) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// pidFile is what postgres writes to postmaster.pid: its pid, and from
// PostgreSQL 10 on a status line that reads "ready" once it accepts connections.
type pidFile struct {
	pid    int
	port   int
	status string
}

// readPIDFile parses dir/postmaster.pid.
func readPIDFile(dir string) (pidFile, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return pidFile{}, fmt.Errorf("read postmaster.pid: %w", err)
	}
	lines := strings.Split(string(raw), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		return pidFile{}, fmt.Errorf("parse postmaster.pid: %w", err)
	}
	f := pidFile{pid: pid}
	if len(lines) > 3 {
		f.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	if len(lines) > 7 {
		f.status = strings.TrimSpace(lines[7])
	}
	return f, nil
}

// processAlive reports whether pid exists (EPERM means it exists but is not ours).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// looksLikePostgres tells a live postgres from an unrelated process that
// inherited a stale pid (common in containers, where pids restart low). Without
// /proc it cannot tell and assumes postgres.
func looksLikePostgres(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) || !procMounted()
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	return strings.Contains(filepath.Base(argv0), "postgres")
}

func procMounted() bool {
	_, err := os.Stat("/proc/self")
	return err == nil
}
