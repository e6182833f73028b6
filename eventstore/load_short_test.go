package eventstore

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/nats-io/nats.go"
)

// stallingConn is a client's in-process connection to the server that, once stalled,
// lets only a budget of bytes more through to the client and then delivers nothing:
// what a client sees while the stream's leader is gone or the network drops packets.
type stallingConn struct {
	net.Conn
	stalled  atomic.Bool
	budget   atomic.Int64
	mu       sync.Mutex
	released chan struct{}
	closed   chan struct{}
	once     sync.Once
}

func (c *stallingConn) stall(budget int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.budget.Store(budget)
	c.released = make(chan struct{})
	c.stalled.Store(true)
}

func (c *stallingConn) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stalled.Swap(false) {
		close(c.released)
	}
}

func (c *stallingConn) Read(p []byte) (int, error) {
	if c.stalled.Load() {
		left := c.budget.Load()
		if left <= 0 {
			c.mu.Lock()
			released := c.released
			c.mu.Unlock()
			select {
			case <-released:
			case <-c.closed:
				return 0, net.ErrClosed
			}
		} else if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := c.Conn.Read(p)
	c.budget.Add(-int64(n))
	return n, err
}

func (c *stallingConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// stallingProvider hands nats.InProcessServer a stallingConn to the server.
type stallingProvider struct {
	ns   nats.InProcessConnProvider
	conn *stallingConn
}

func (p *stallingProvider) InProcessConn() (net.Conn, error) {
	conn, err := p.ns.InProcessConn()
	if err != nil {
		return nil, err
	}
	p.conn = &stallingConn{Conn: conn, closed: make(chan struct{})}
	return p.conn, nil
}

// A load that NATS stops answering part-way (the client's request timeout passes
// before the batch's end) is an error wrapping ErrUnavailable, never the events that
// happened to arrive, nor "no events" (issue 9, item 3).
func TestLoadCutShortIsAnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	wc, err := srv.Connect("writer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wc.Close)
	key, _ := ParseMasterKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	writer, err := Open(ctx, wc, key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	org := "99999999-9999-9999-9999-999999999999"
	agg := Aggregate{OrgID: org, Type: domain.AggregateSecret, ID: org}
	const events = loadBatch + 150 // two batches
	for i := range events {
		desc := string(rune('a' + i%26))
		if _, err := writer.Append(ctx, Pending{Aggregate: agg, Unchecked: true, Events: []domain.Event{domain.SecretUpdated{Description: &desc}}}); err != nil {
			t.Fatal(err)
		}
	}

	// A second client of the same server whose connection can be stalled; its request
	// timeout is what ends an unanswered batch.
	provider := &stallingProvider{ns: srv}
	nc, err := nats.Connect("", nats.InProcessServer(provider), nats.Timeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	reader, err := Open(ctx, nc, key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := reader.Load(ctx, agg); err != nil || l.EventCount() != events {
		t.Fatalf("load before the stall: %d events, %v; want %d", l.EventCount(), err, events)
	}

	for _, tc := range []struct {
		name   string
		budget int64
	}{
		{"no answer at all", 0},
		{"cut in the first batch", 16 << 10},
		{"cut in the second batch", 120 << 10},
	} {
		provider.conn.stall(tc.budget)
		began := time.Now()
		l, err := reader.Load(ctx, agg)
		took := time.Since(began)
		provider.conn.resume()
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: Load gave %d of %d events and error %v, want ErrUnavailable", tc.name, l.EventCount(), events, err)
		}
		if l.EventCount() != 0 {
			t.Fatalf("%s: a failed load returned %d events", tc.name, l.EventCount())
		}
		if took > 5*time.Second {
			t.Fatalf("%s: took %s to give up", tc.name, took)
		}
		if !IsUnavailable(err) {
			t.Fatalf("%s: IsUnavailable(%v) = false", tc.name, err)
		}
		// Once NATS answers again, so do loads: nothing of the failure stays. A busy
		// machine may need a few short request timeouts to drain the stalled backlog.
		var seen int
		deadline := time.Now().Add(15 * time.Second)
		for {
			seen = 0
			err = reader.ScanScope(ctx, org, 0, func(domain.Recorded) error { seen++; return nil })
			if err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || seen != events {
			t.Fatalf("%s: scan after the stall ended: %d events, %v; want %d", tc.name, seen, err, events)
		}
	}
}
