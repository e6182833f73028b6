package eventstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/lease"
	"github.com/keyledger/keyledger/eventstore/natskv"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// openReplica does what a Keyledger replica does at start-up against NATS: open the
// store (stream and keys bucket), the reservations, a KV bucket, the projector lease
// and the change stream, all with three replicas.
func openReplica(ctx context.Context, nc *nats.Conn) error {
	key, err := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	if err != nil {
		return err
	}
	s, err := eventstore.Open(ctx, nc, key, eventstore.Options{Replicas: 3})
	if err != nil {
		return err
	}
	if _, err := reservation.Open(ctx, s); err != nil {
		return err
	}
	if _, err := natskv.Open(ctx, s, "KEYLEDGER_SESSIONS", time.Hour); err != nil {
		return err
	}
	if _, err := lease.Open(ctx, s, "projector", nc.Opts.Name, 10*time.Second); err != nil {
		return err
	}
	_, err = changefeed.Open(ctx, s)
	return err
}

// Two replicas started at the same instant on a fresh three-node cluster both come up:
// every setup step retries while the cluster elects its leaders and places the R3
// assets, instead of failing on the first timeout (issue 9, item 1).
func TestReplicasStartTogetherOnAFreshCluster(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []eventstoretest.ClusterOption
	}{
		{"cluster still forming", []eventstoretest.ClusterOption{eventstoretest.WithoutWaitingForLeader()}},
		{"cluster ready", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := eventstoretest.NewCluster(t, 3, tc.opts...)
			conns := []*nats.Conn{cl.Connect(t, "replica-a"), cl.Connect(t, "replica-b")}
			ctx, cancel := context.WithTimeout(context.Background(), 2*eventstore.SetupTimeout)
			defer cancel()
			start := make(chan struct{})
			errs := make([]error, len(conns))
			var wg sync.WaitGroup
			for i, nc := range conns {
				wg.Go(func() {
					<-start
					errs[i] = openReplica(ctx, nc)
				})
			}
			began := time.Now()
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
				}
			}
			t.Logf("both replicas up in %s", time.Since(began).Round(time.Millisecond))
			if _, ok := cl.StreamLeader(eventstore.StreamName); !ok {
				t.Errorf("no leader for %s", eventstore.StreamName)
			}
		})
	}
}

// A NATS server without JetStream gives a definitive answer: Open says so at once
// instead of retrying for the whole setup timeout.
func TestOpenFailsFastWithoutJetStream(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	key, _ := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	began := time.Now()
	_, err = eventstore.Open(context.Background(), nc, key, eventstore.Options{})
	if !errors.Is(err, eventstore.ErrJetStreamDisabled) {
		t.Fatalf("Open on a server without JetStream: %v, want ErrJetStreamDisabled", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("Open took %s to give up on a definitive answer", took)
	}
}

// The cluster helper finds the stream leader, and a killed leader is replaced and can
// come back: what a fault test built on it relies on.
func TestClusterKillAndRestartStreamLeader(t *testing.T) {
	t.Parallel()
	cl := eventstoretest.NewCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := cl.Store(ctx, t, "t")
	leader, err := cl.WaitStreamLeader(ctx, eventstore.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	cl.Kill(leader)
	next, err := cl.WaitStreamLeader(ctx, eventstore.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatalf("node %d still leads after it was killed", leader)
	}
	// The new leader answers once the cluster has settled on it; on a loaded machine the
	// first requests after an election may go unanswered (a client sees 503 then).
	var infoErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, infoErr = s.LastSeq(rctx)
		rcancel()
		if infoErr == nil {
			break
		}
	}
	if infoErr != nil {
		t.Fatalf("stream info with node %d down: %v", leader, infoErr)
	}
	cl.Restart(t, leader)
	if err := cl.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if cl.Server(leader) == nil {
		t.Fatalf("node %d not running after Restart", leader)
	}
}
