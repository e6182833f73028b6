package eventstoretest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Cluster is a JetStream cluster of NATS servers running in this process, for tests
// that need what one embedded server cannot show: R3 streams and buckets, leader
// elections, a node that dies and comes back. Each node listens on loopback (a
// cluster cannot use DontListen: routes never start) on a client port and a route
// port that it keeps across Kill and Restart, so that clients given URL reconnect to
// a restarted node and the other nodes route to it again. Each node keeps its
// JetStream files in its own directory under tb.TempDir(). Everything stops at the
// test's cleanup.
//
// Node indexes run from 0 to Size()-1. Methods are safe for concurrent use (a fault
// test kills a node while writers run).
type Cluster struct {
	name  string
	opts  clusterOptions
	mu    sync.Mutex
	nodes []*clusterNode
}

type clusterNode struct {
	name        string
	dir         string
	clientPort  int
	clusterPort int
	srv         *server.Server // nil while killed
}

// ClusterOption adjusts NewCluster.
type ClusterOption func(*clusterOptions)

type clusterOptions struct {
	syncAlways bool
	noWait     bool
	// ports finds loopback ports that are free now (freePorts; a test's own in
	// this package's tests).
	ports func(count int) ([]int, error)
}

// WithSyncAlways makes every node fsync each JetStream write, as production does: a
// fault test that counts acknowledged writes after a crash wants it; it makes writes
// slower, so it is off by default.
func WithSyncAlways() ClusterOption { return func(o *clusterOptions) { o.syncAlways = true } }

// WithoutWaitingForLeader returns as soon as every node accepts clients, before the
// nodes have routed to each other and elected a JetStream meta leader: the state an
// application meets when it starts together with a fresh cluster.
func WithoutWaitingForLeader() ClusterOption { return func(o *clusterOptions) { o.noWait = true } }

// clusterReadyTimeout bounds how long NewCluster, Restart and WaitReady wait. On a
// loaded two-core machine a three-node cluster elects its meta leader within a few
// seconds.
const clusterReadyTimeout = 30 * time.Second

// NewCluster starts a JetStream cluster of n nodes and, unless WithoutWaitingForLeader,
// waits until it has a meta leader that counts every node as a current peer.
func NewCluster(tb testing.TB, n int, opts ...ClusterOption) *Cluster {
	tb.Helper()
	if n < 1 {
		tb.Fatalf("eventstoretest: a cluster needs at least one node, not %d", n)
	}
	c := &Cluster{name: "kltest", opts: clusterOptions{ports: freePorts}}
	for _, opt := range opts {
		opt(&c.opts)
	}
	// The nodes' directory is made before their shutdown is registered: cleanups run
	// last registered first, so the nodes stop before their files are removed. The
	// other way round a node still running wrote into the directory being removed
	// (CI: "TempDir RemoveAll cleanup: ... directory not empty").
	root := tb.TempDir()
	tb.Cleanup(c.shutdown)
	// A port found free may be taken again before a node binds it (an outgoing
	// connection of a test running in parallel gets the same ephemeral port): the
	// node then never listens. Such a start is made again on other ports.
	var err error
	for attempt := 1; ; attempt++ {
		if err = c.startAll(filepath.Join(root, strconv.Itoa(attempt)), n); err == nil {
			break
		}
		c.shutdown()
		if attempt == clusterStartAttempts {
			tb.Fatalf("eventstoretest: %v (%d attempts)", err, attempt)
		}
		tb.Logf("eventstoretest: %v; starting the cluster again on other ports", err)
	}
	if c.opts.noWait {
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterReadyTimeout)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		tb.Fatalf("eventstoretest: %v", err)
	}
	return c
}

// clusterStartAttempts bounds how often NewCluster starts its nodes on fresh ports.
const clusterStartAttempts = 3

// nodeListenTimeout bounds the wait for a starting node to accept clients: on
// loopback that takes milliseconds, so a node that does not within it failed to bind
// its ports.
const nodeListenTimeout = 10 * time.Second

// startAll makes n nodes under dir on ports free now and starts them all.
func (c *Cluster) startAll(dir string, n int) error {
	ports, err := c.opts.ports(2 * n)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes = nil
	for i := range n {
		c.nodes = append(c.nodes, &clusterNode{
			name:        "n" + strconv.Itoa(i),
			dir:         filepath.Join(dir, "n"+strconv.Itoa(i)),
			clientPort:  ports[2*i],
			clusterPort: ports[2*i+1],
		})
	}
	c.mu.Unlock()
	// Every node is started before any is waited for: a node's JetStream does not
	// finish starting until it has heard from its peers.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = c.start(i) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("start node %d: %w", i, err)
		}
	}
	return nil
}

// freePorts finds count loopback ports that are free now. They are held open together
// so that no two are the same, then released for the servers to bind; another process
// taking one in between is unlikely on a test machine and fails the start loudly.
func freePorts(count int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range count {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) serverOptions(i int) *server.Options {
	nd := c.nodes[i]
	var routes []*url.URL
	for _, other := range c.nodes {
		routes = append(routes, &url.URL{Scheme: "nats", Host: "127.0.0.1:" + strconv.Itoa(other.clusterPort)})
	}
	return &server.Options{
		ServerName: nd.name,
		Host:       "127.0.0.1",
		Port:       nd.clientPort,
		Cluster: server.ClusterOpts{
			Name: c.name,
			Host: "127.0.0.1",
			Port: nd.clusterPort,
		},
		// Every node lists every node (itself included, which the server skips), so
		// that any node coming back finds the others, whoever was restarted.
		Routes:             routes,
		JetStream:          true,
		StoreDir:           nd.dir,
		SyncAlways:         c.opts.syncAlways,
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  1 << 30,
		MaxPayload:         4 << 20,
		NoSigs:             true,
		NoLog:              true,
	}
}

// start starts node i on its directory and ports and waits until it accepts clients.
func (c *Cluster) start(i int) error {
	c.mu.Lock()
	if c.nodes[i].srv != nil {
		c.mu.Unlock()
		return fmt.Errorf("node %d is running", i)
	}
	opts := c.serverOptions(i)
	c.mu.Unlock()
	srv, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	go srv.Start()
	if !srv.ReadyForConnections(nodeListenTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("node %s not ready for connections on port %d", opts.ServerName, opts.Port)
	}
	c.mu.Lock()
	c.nodes[i].srv = srv
	c.mu.Unlock()
	return nil
}

// Size is the number of nodes, running or killed.
func (c *Cluster) Size() int { return len(c.nodes) }

// URLs are the nodes' client URLs, one per node, in node order. They stay the same
// across Kill and Restart.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.nodes))
	for i, nd := range c.nodes {
		urls[i] = "nats://127.0.0.1:" + strconv.Itoa(nd.clientPort)
	}
	return urls
}

// URL is every node's client URL, comma-separated, as nats.Connect and
// KEYLEDGER_NATS_URL take them.
func (c *Cluster) URL() string { return strings.Join(c.URLs(), ",") }

// ServerName is node i's server name, as stream and consumer info report leaders.
func (c *Cluster) ServerName(i int) string { return c.nodes[i].name }

// Server is node i's running server, nil while it is killed.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].srv
}

// Connect opens a client connection that knows every node and reconnects forever,
// as a Keyledger replica's does; it is closed at the test's cleanup.
func (c *Cluster) Connect(tb testing.TB, name string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	all := append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(c.URL(), all...)
	if err != nil {
		tb.Fatalf("eventstoretest: connect to the cluster: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// Kill stops node i at once: its clients and routes drop without lame-duck mode, the
// closest an in-process server comes to kill -9. Its files and ports are kept for
// Restart. Killing a killed node does nothing.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	srv := c.nodes[i].srv
	c.nodes[i].srv = nil
	c.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Shutdown()
	srv.WaitForShutdown()
}

// Restart starts killed node i again on its files and ports and waits until it
// accepts clients (not until it has caught up: use WaitReady for that).
func (c *Cluster) Restart(tb testing.TB, i int) {
	tb.Helper()
	if err := c.start(i); err != nil {
		tb.Fatalf("eventstoretest: restart node %d: %v", i, err)
	}
}

// MetaLeader is the index of the node that is the JetStream meta leader, false when
// no running node is (during an election).
func (c *Cluster) MetaLeader() (int, bool) {
	return c.find(func(s *server.Server) bool { return s.JetStreamIsLeader() })
}

// StreamLeader is the index of the node that leads stream (in the default account, the
// one Keyledger uses), false when no running node does (during an election). A KV
// bucket is the stream "KV_" + its name.
func (c *Cluster) StreamLeader(stream string) (int, bool) {
	return c.find(func(s *server.Server) bool {
		return s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream)
	})
}

// WaitStreamLeader waits until some running node leads stream and returns its index.
func (c *Cluster) WaitStreamLeader(ctx context.Context, stream string) (int, error) {
	var leader int
	err := c.poll(ctx, "a leader of stream "+stream, func() bool {
		var ok bool
		leader, ok = c.StreamLeader(stream)
		return ok
	})
	return leader, err
}

// WaitReady waits until the running nodes have a meta leader that counts each of them
// as a current JetStream peer, and each of them is current with it: from then on,
// creating an R3 stream (with Size() ≥ 3) succeeds without retries.
func (c *Cluster) WaitReady(ctx context.Context) error {
	return c.poll(ctx, "a ready cluster", func() bool {
		running := c.running()
		leader, ok := c.MetaLeader()
		if !ok {
			return false
		}
		srv := c.Server(leader)
		if srv == nil || len(srv.JetStreamClusterPeers()) < len(running) {
			return false
		}
		for _, s := range running {
			if !s.JetStreamIsCurrent() {
				return false
			}
		}
		return true
	})
}

func (c *Cluster) poll(ctx context.Context, what string, done func() bool) error {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

func (c *Cluster) running() []*server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*server.Server
	for _, nd := range c.nodes {
		if nd.srv != nil {
			out = append(out, nd.srv)
		}
	}
	return out
}

func (c *Cluster) find(is func(*server.Server) bool) (int, bool) {
	c.mu.Lock()
	srvs := make([]*server.Server, len(c.nodes))
	for i, nd := range c.nodes {
		srvs[i] = nd.srv
	}
	c.mu.Unlock()
	i := slices.IndexFunc(srvs, func(s *server.Server) bool { return s != nil && is(s) })
	return i, i >= 0
}

// shutdown stops every running node, all at once: one by one, the last nodes would
// spend their shutdown looking for a quorum that is already gone.
func (c *Cluster) shutdown() {
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Go(func() { c.Kill(i) })
	}
	wg.Wait()
}

// StoreOn opens a store (three replicas, TestMasterKey) over a connection to node i
// alone, closed at the test's cleanup: a direct get through it is answered next to
// node i, by a follower of a stream when node i does not lead it, as a replica
// connected there would have it answered.
func (c *Cluster) StoreOn(ctx context.Context, tb testing.TB, i int) *eventstore.Store {
	tb.Helper()
	nc, err := nats.Connect(c.URLs()[i], nats.Name(fmt.Sprintf("node-%d", i)))
	if err != nil {
		tb.Fatalf("eventstoretest: connect to node %d: %v", i, err)
	}
	tb.Cleanup(nc.Close)
	return openReplica(ctx, tb, nc)
}

// Store opens a store (three replicas, TestMasterKey) over a connection named name to
// every node (Connect), as a replica of Keyledger opens one.
func (c *Cluster) Store(ctx context.Context, tb testing.TB, name string) *eventstore.Store {
	tb.Helper()
	return openReplica(ctx, tb, c.Connect(tb, name))
}

// openReplica opens a store with three replicas and TestMasterKey over nc.
func openReplica(ctx context.Context, tb testing.TB, nc *nats.Conn) *eventstore.Store {
	tb.Helper()
	return openStore(ctx, tb, nc, 3)
}

// OpenStore opens a store (one replica, TestMasterKey, no group sync) over nc: a
// connection to a server of the test's own, another replica's connection to New's.
func OpenStore(ctx context.Context, tb testing.TB, nc *nats.Conn) *eventstore.Store {
	tb.Helper()
	return openStore(ctx, tb, nc, 1)
}

func openStore(ctx context.Context, tb testing.TB, nc *nats.Conn, replicas int) *eventstore.Store {
	tb.Helper()
	key, err := eventstore.ParseMasterKey(TestMasterKey)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := eventstore.Open(ctx, nc, key, eventstore.Options{Replicas: replicas})
	if err != nil {
		tb.Fatalf("eventstoretest: open a store over %s: %v", nc.Opts.Name, err)
	}
	return s
}
