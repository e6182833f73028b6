package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
}

// EmbeddedOptions configure the embedded server.
type EmbeddedOptions struct {
	// Dir is where JetStream keeps its files.
	Dir string
	// Logger receives the server's notices; nil silences them.
	Logger *slog.Logger
}

// StartEmbedded starts an in-process NATS server whose JetStream store fsyncs every
// write, so that an acknowledged append survives kill -9 and a power cut.
func StartEmbedded(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	sopts := &server.Options{
		ServerName:         "keyledger-embedded",
		DontListen:         true,
		JetStream:          true,
		StoreDir:           filepath.Join(opts.Dir, "jetstream"),
		SyncAlways:         true,
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
	if opts.Logger != nil {
		ns.SetLoggerV2(&natsLogger{l: opts.Logger}, false, false, false)
	}
	go ns.Start()
	deadline := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if !ns.ReadyForConnections(deadline) {
		ns.Shutdown()
		lock.Close()
		return nil, fmt.Errorf("embedded nats: not ready after %s", deadline)
	}
	return &Embedded{ns: ns, lock: lock}, nil
}

// Connect opens a client connection to the embedded server.
func (e *Embedded) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(e.ns), nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect embedded nats: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits until it has stopped. Drain client connections first.
func (e *Embedded) Shutdown() {
	e.ns.Shutdown()
	e.ns.WaitForShutdown()
	e.lock.Close()
}

// ErrDirLocked means another process runs an embedded server on the same directory.
var ErrDirLocked = errors.New("another keyledger process is using this data directory (stop it, or point both at KEYLEDGER_NATS_URL)")

// lockDir takes an exclusive lock on dir, so that two processes never run JetStream on
// the same files. The lock goes with the process, however it ends.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded nats dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded nats lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", dir, ErrDirLocked)
	}
	return f, nil
}

type natsLogger struct{ l *slog.Logger }

func (n *natsLogger) Noticef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Warnf(format string, v ...any)   { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Fatalf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Errorf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Debugf(format string, v ...any)  { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Tracef(format string, v ...any)  {}
