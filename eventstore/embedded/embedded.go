package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Embedded is a NATS server with JetStream running inside this process. It listens on
// no port: clients reach it in-process only.
type Embedded struct {
	ns   *server.Server
	lock *os.File
	// sync is set with GroupSync: the callers' fsyncs (sync.go).
	sync *syncer
	log  *slog.Logger
}

// EmbeddedOptions configure the embedded server.
type EmbeddedOptions struct {
	// Dir is where JetStream keeps its files.
	Dir string
	// Logger receives the server's notices; nil silences them.
	Logger *slog.Logger
	// GroupSync makes the caller responsible for durability: the server writes each
	// message to its file before acknowledging it but does not fsync it, and the caller
	// calls Sync after the acknowledgement and before the write counts, so that
	// concurrent writes share fsyncs (sync.go). eventstore does this when given Sync as
	// its Options.SyncWrites. Without it the server fsyncs every write itself.
	GroupSync bool
}

// StartEmbedded starts an in-process NATS server whose JetStream store fsyncs every
// write (or, with GroupSync, lets Sync do it), so that an acknowledged append survives
// kill -9 and a power cut.
func StartEmbedded(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	// The logger is set even when the caller wants silence: the server reports why it
	// could not start (JetStream's files unusable, say) only through it.
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The server keeps its accounts' streams under StoreDir/jetstream.
	storeDir := filepath.Join(opts.Dir, "jetstream")
	accountsDir := filepath.Join(storeDir, "jetstream")
	if err := repairStreamMeta(accountsDir, logger); err != nil {
		lock.Close()
		return nil, fmt.Errorf("embedded nats in %s: %w", opts.Dir, err)
	}
	sopts := &server.Options{
		ServerName:         "keyledger-embedded",
		DontListen:         true,
		JetStream:          true,
		StoreDir:           storeDir,
		SyncAlways:         !opts.GroupSync,
		NoSigs:             true,
		NoLog:              opts.Logger == nil,
		JetStreamMaxMemory: 256 << 20,
		MaxPayload:         4 << 20,
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	nl := &natsLogger{l: logger}
	ns.SetLoggerV2(nl, false, false, false)
	if err := startServer(ctx, ns, nl); err != nil {
		ns.Shutdown()
		lock.Close()
		return nil, fmt.Errorf("embedded nats in %s: %w", opts.Dir, err)
	}
	e := &Embedded{ns: ns, lock: lock, log: nl.l}
	if opts.GroupSync {
		e.sync = newSyncer(accountsDir)
	}
	return e, nil
}

// Sync returns once every write the server acknowledged before the call is on disk
// (GroupSync); it returns at once when the server fsyncs every write itself.
func (e *Embedded) Sync(ctx context.Context) error {
	if e.sync == nil {
		return nil
	}
	return e.sync.Sync(ctx)
}

// embeddedStartTimeout bounds start-up when ctx has no deadline: recovering a large
// store after a crash takes a while, but never this long.
const embeddedStartTimeout = 30 * time.Second

// startServer starts ns and waits until it accepts clients with JetStream enabled.
// Start returns early when JetStream cannot start; that ends the wait at once, with
// the reason the server logged, instead of after the whole timeout.
func startServer(ctx context.Context, ns *server.Server, nl *natsLogger) error {
	ctx, cancel := context.WithTimeout(ctx, embeddedStartTimeout)
	defer cancel()
	started := make(chan struct{})
	go func() {
		defer close(started)
		ns.Start()
	}()
	select {
	case <-started:
	case <-ctx.Done():
		return fmt.Errorf("not started: %w", ctx.Err())
	}
	if reason := nl.fatal(); reason != "" {
		return errors.New(reason)
	}
	if !ns.JetStreamEnabled() {
		return errors.New("JetStream did not start")
	}
	wait := time.Until(deadlineOf(ctx))
	if !ns.ReadyForConnections(wait) {
		return fmt.Errorf("not ready for connections after %s", wait.Round(time.Millisecond))
	}
	return nil
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline() // always set: startServer adds a timeout
	return d
}

// syncQueueLen is eventstore.SyncQueueLen (this package cannot import eventstore,
// whose tests import it): the queue of a synchronous subscription, which a load's
// batch direct get allocates per request.
const syncQueueLen = 1000

// Connect opens a client connection to the embedded server.
func (e *Embedded) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(e.ns), nats.Name(name), nats.MaxReconnects(-1), nats.SyncQueueLen(syncQueueLen))
	if err != nil {
		return nil, fmt.Errorf("connect embedded nats: %w", err)
	}
	return nc, nil
}

// InProcessConn opens a connection to the embedded server; it makes an Embedded a
// nats.InProcessConnProvider, for clients that pick the server at each (re)connect.
func (e *Embedded) InProcessConn() (net.Conn, error) { return e.ns.InProcessConn() }

// Shutdown stops the server and waits until it has stopped. Drain client connections first.
func (e *Embedded) Shutdown() {
	e.ns.Shutdown()
	e.ns.WaitForShutdown()
	if e.sync != nil {
		if err := e.sync.close(); err != nil {
			e.log.Error("embedded nats: last sync at shutdown", "err", err)
		}
	}
	e.lock.Close()
}

// ErrDirLocked means another process runs an embedded server on the same directory.
var ErrDirLocked = errors.New("another keyledger process is using this data directory (stop it, or point both at KEYLEDGER_NATS_URL)")

// lockDir takes an exclusive lock on dir, so that two processes never run JetStream on
// the same files. The lock goes with the process, however it ends. The holder writes
// its pid into the lock file, so that a refused process can name the one in the way.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded nats dir: %w", err)
	}
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded nats lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if pid := lockHolder(path); pid > 0 {
			return nil, fmt.Errorf("%s is locked by process %d: %w", dir, pid, ErrDirLocked)
		}
		return nil, fmt.Errorf("%s: %w", dir, ErrDirLocked)
	}
	// The pid is a courtesy for the message above: failing to write it costs nothing.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// lockHolder reads the pid the lock's holder wrote; 0 when there is none yet.
func lockHolder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// natsLogger passes the server's log to slog and keeps the first fatal message, which
// is how the server says why it stopped starting.
type natsLogger struct {
	l *slog.Logger

	mu         sync.Mutex
	firstFatal string
}

// fatal is the first fatal message the server logged, or "".
func (n *natsLogger) fatal() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.firstFatal
}

func (n *natsLogger) Noticef(format string, v ...any) { n.log(slog.LevelDebug, format, v...) }
func (n *natsLogger) Warnf(format string, v ...any)   { n.log(slog.LevelWarn, format, v...) }
func (n *natsLogger) Errorf(format string, v ...any)  { n.log(slog.LevelError, format, v...) }
func (n *natsLogger) Debugf(format string, v ...any)  { n.log(slog.LevelDebug, format, v...) }
func (n *natsLogger) Tracef(format string, v ...any)  {}

func (n *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	n.mu.Lock()
	if n.firstFatal == "" {
		n.firstFatal = msg
	}
	n.mu.Unlock()
	n.l.Error(msg)
}

func (n *natsLogger) log(level slog.Level, format string, v ...any) {
	// Formatting costs more than the discarded record: ask first. The server's logger
	// interface carries no context, so there is none to pass on.
	if n.l.Enabled(context.Background(), level) {
		n.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}
