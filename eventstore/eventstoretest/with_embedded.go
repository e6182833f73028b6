package eventstoretest

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/nats-io/nats.go/jetstream"
)

// WithEmbedded starts the embedded server on dir (a data dir's NATS directory) for f,
// then closes the connection (f's requests are answered by then) and stops the server: for tests that look at what an
// earlier run, or a killed process, left in that directory. The server's warnings go
// to the test's log: a stream it skipped or failed to create says why there.
func WithEmbedded(tb testing.TB, dir string, f func(jetstream.JetStream)) {
	tb.Helper()
	logger := slog.New(slog.NewTextHandler(logWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := embedded.StartEmbedded(context.Background(), embedded.EmbeddedOptions{Dir: dir, Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect("eventstoretest")
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	f(js)
}

// logWriter writes a logger's lines to a test's log.
type logWriter struct{ tb testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
