package projections_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// pgProxy stands between the read models and PostgreSQL, and makes the faults an
// operator sees: a database that refuses (every connection cut, new ones closed at
// once) and one that is frozen (connections accepted, bytes held: a SIGSTOPped server,
// or a network that drops packets silently).
type pgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	refuse bool
	conns  map[net.Conn]bool
}

func newPGProxy(t *testing.T, dbURL string) (*pgProxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: u.Host, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	t.Cleanup(func() {
		ln.Close()
		p.set(false, false)
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	go p.serve()
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *pgProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.relay(c)
	}
}

func (p *pgProxy) relay(c net.Conn) {
	p.mu.Lock()
	if p.refuse {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c] = true
	p.mu.Unlock()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = true
	p.mu.Unlock()
	go p.pump(up, c)
	p.pump(c, up)
}

// pump copies from src to dst, holding each chunk while the proxy is frozen.
func (p *pgProxy) pump(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// set freezes or thaws the proxy, and makes it refuse (cutting every connection) or
// accept again.
func (p *pgProxy) set(frozen, refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen, p.refuse = frozen, refuse
	p.cond.Broadcast()
	if refuse {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// A read while PostgreSQL refuses, or is frozen, ends with ErrUnavailable (which the
// API answers 503 with Retry-After) instead of an internal error, or a wait as long as
// the client's; and reads work again once PostgreSQL is back, without a restart. Before,
// a refused read was a 500 and a frozen one hung for as long as the client waited.
func TestReadsWhilePostgresIsDownAreUnavailable(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out the read bound")
	}
	r := newRig(t, true)
	res := r.create(t, "DB_PASS", map[domain.Environment]string{domain.Production: "p"})
	r.wait(t, res.Seq)
	ctx := context.Background()
	proxy, proxied := newPGProxy(t, r.url)
	db, err := projections.Open(ctx, proxied, r.env.Store.Keyring(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)

	reads := map[string]func(context.Context) error{
		"grid page": func(ctx context.Context) error {
			_, _, err := db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{})
			return err
		},
		"one secret": func(ctx context.Context) error {
			_, _, _, _, err := db.Secrets.SecretSnapshot(ctx, r.orgID, res.ID)
			return err
		},
		"members": func(ctx context.Context) error {
			_, err := db.Directory.ListMembers(ctx, r.orgID)
			return err
		},
		"memberships": func(ctx context.Context) error {
			_, err := db.Directory.MembershipsOf(ctx, r.owner.UserID)
			return err
		},
		"audit page": func(ctx context.Context) error {
			_, _, err := db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{})
			return err
		},
	}
	// The long reads are bounded by their caller's context, as the API's are (the
	// export's 30 minutes); a refused database ends them at once all the same.
	long := map[string]func(context.Context) error{
		"values fetch": func(ctx context.Context) error {
			_, _, err := db.Secrets.SealedValues(ctx, r.orgID, domain.Production)
			return err
		},
		"audit export": func(ctx context.Context) error {
			return db.Audit.StreamAudit(ctx, r.orgID, projections.AuditFilter{}, func(projections.AuditEntry) error { return nil })
		},
	}
	all := func(t *testing.T, want func(name string, err error), withLong bool) {
		t.Helper()
		var wg sync.WaitGroup
		run := func(name string, read func(context.Context) error, ctx context.Context) {
			wg.Go(func() {
				// Not a timing: a guard against the hang this test is about.
				done := make(chan error, 1)
				go func() { done <- read(ctx) }()
				select {
				case err := <-done:
					want(name, err)
				case <-time.After(2 * time.Minute):
					t.Errorf("%s: no answer after 2 minutes", name)
				}
			})
		}
		for name, read := range reads {
			run(name, read, ctx)
		}
		if withLong {
			for name, read := range long {
				run(name, read, ctx)
			}
		}
		wg.Wait()
	}
	ok := func(name string, err error) {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	unavailable := func(name string, err error) {
		if !errors.Is(err, projections.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
	}
	all(t, ok, true)

	proxy.set(false, true)
	all(t, unavailable, true)
	proxy.set(false, false)
	all(t, ok, true)

	proxy.set(true, false)
	all(t, unavailable, false)
	// A long read gives up with its caller; what it reports is then the caller's.
	lctx, cancel := context.WithTimeout(ctx, time.Second)
	for name, read := range long {
		if err := read(lctx); err == nil {
			t.Errorf("%s: read while PostgreSQL is frozen", name)
		}
	}
	cancel()
	proxy.set(false, false)
	all(t, ok, true)

	// A start against a frozen PostgreSQL ends instead of waiting for ever.
	proxy.set(true, false)
	if _, err := projections.Open(ctx, proxied, r.env.Store.Keyring(), nil); err == nil {
		t.Fatal("the read models opened on a frozen PostgreSQL")
	} else {
		t.Logf("open on a frozen PostgreSQL: %v", err)
	}
	proxy.set(false, false)
}
