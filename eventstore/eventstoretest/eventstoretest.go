// Package eventstoretest starts a real embedded NATS server with JetStream for tests,
// in a temporary directory, and opens a Store on it.
package eventstoretest

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/nats-io/nats.go"
)

// TestMasterKey is a fixed master key for tests (64 hex digits).
const TestMasterKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// Env is a running embedded server with one open store.
type Env struct {
	// Server is the running server; StopNATS and StartNATS replace it.
	Server *embedded.Embedded
	Conn   *nats.Conn
	Store  *eventstore.Store
	Dir    string

	current *currentServer
}

// currentServer is the server the test's connection (re)connects to: after StartNATS,
// the connection's reconnect finds the new server, as a client of a restarted NATS does.
type currentServer struct {
	mu  sync.Mutex
	srv *embedded.Embedded // nil while stopped
}

func (c *currentServer) InProcessConn() (net.Conn, error) {
	c.mu.Lock()
	srv := c.srv
	c.mu.Unlock()
	if srv == nil {
		return nil, errors.New("eventstoretest: NATS is stopped")
	}
	return srv.InProcessConn()
}

// Sync is the current server's group sync (eventstore.Options.SyncWrites): the
// servers of a test, one after another, share its files.
func (c *currentServer) Sync(ctx context.Context) error {
	c.mu.Lock()
	srv := c.srv
	c.mu.Unlock()
	if srv == nil {
		return errors.New("eventstoretest: NATS is stopped")
	}
	return srv.Sync(ctx)
}

func (c *currentServer) swap(srv *embedded.Embedded) *embedded.Embedded {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.srv
	c.srv = srv
	return old
}

// New starts an embedded server in tb's temp dir and opens a store; both stop at cleanup.
func New(tb testing.TB) *Env {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := tb.TempDir()
	srv, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: dir, GroupSync: true})
	if err != nil {
		tb.Fatalf("start embedded nats: %v", err)
	}
	current := &currentServer{srv: srv}
	nc, err := nats.Connect("", nats.InProcessServer(current), nats.Name("test"),
		nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.SyncQueueLen(eventstore.SyncQueueLen))
	if err != nil {
		srv.Shutdown()
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() {
		_ = nc.Drain()
		if srv := current.swap(nil); srv != nil {
			srv.Shutdown()
		}
	})
	key, err := eventstore.ParseMasterKey(TestMasterKey)
	if err != nil {
		tb.Fatalf("master key: %v", err)
	}
	// As the server runs it: the store syncs its writes (GroupSync).
	store, err := eventstore.Open(ctx, nc, key, eventstore.Options{SyncWrites: current.Sync})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	return &Env{Server: srv, Conn: nc, Store: store, Dir: dir, current: current}
}

// StopNATS shuts the server down, as a crash or an outage would: the store's
// connection keeps trying to reconnect, and every request fails until StartNATS.
func (e *Env) StopNATS(tb testing.TB) {
	tb.Helper()
	if srv := e.current.swap(nil); srv != nil {
		srv.Shutdown()
	}
}

// StartNATS starts the server again on the same files after StopNATS; the store's
// connection reconnects to it within its reconnect wait.
func (e *Env) StartNATS(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: e.Dir, GroupSync: true})
	if err != nil {
		tb.Fatalf("restart embedded nats: %v", err)
	}
	if old := e.current.swap(srv); old != nil {
		old.Shutdown()
	}
	e.Server = srv
}
