package eventstore

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Embedded is a NATS server with JetStream running inside this process. It listens on
// no port: clients reach it in-process only.
type Embedded struct {
	ns *server.Server
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
		return nil, fmt.Errorf("embedded nats: not ready after %s", deadline)
	}
	return &Embedded{ns: ns}, nil
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
}

type natsLogger struct{ l *slog.Logger }

func (n *natsLogger) Noticef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Warnf(format string, v ...any)   { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Fatalf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Errorf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Debugf(format string, v ...any)  { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Tracef(format string, v ...any)  {}
