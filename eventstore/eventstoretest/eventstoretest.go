// Package eventstoretest starts a real embedded NATS server with JetStream for tests,
// in a temporary directory, and opens a Store on it.
package eventstoretest

import (
	"context"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/nats-io/nats.go"
)

// TestMasterKey is a fixed master key for tests (64 hex digits).
const TestMasterKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// Env is a running embedded server with one open store.
type Env struct {
	Server *eventstore.Embedded
	Conn   *nats.Conn
	Store  *eventstore.Store
	Dir    string
}

// New starts an embedded server in tb's temp dir and opens a store; both stop at cleanup.
func New(tb testing.TB) *Env {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := tb.TempDir()
	srv, err := eventstore.StartEmbedded(ctx, eventstore.EmbeddedOptions{Dir: dir})
	if err != nil {
		tb.Fatalf("start embedded nats: %v", err)
	}
	nc, err := srv.Connect("test")
	if err != nil {
		srv.Shutdown()
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() {
		_ = nc.Drain()
		srv.Shutdown()
	})
	key, err := eventstore.ParseMasterKey(TestMasterKey)
	if err != nil {
		tb.Fatalf("master key: %v", err)
	}
	store, err := eventstore.Open(ctx, nc, key, eventstore.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	return &Env{Server: srv, Conn: nc, Store: store, Dir: dir}
}
