package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/projections/pgtest"
)

// TestClusterFailover is the short form of the cluster fault test that `make test`
// runs: two replicas started at the same instant on a fresh three-node cluster, then
// the event stream's leader and the projector lease's holder are killed under
// writers. TestStressClusterFailover runs it with 8 writers and longer phases.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	runClusterTest(t, clusterPlan{writers: 4, phase: 2 * time.Second, crossReads: 20})
}

type clusterPlan struct {
	writers int
	phase   time.Duration // running time before, between and after the faults
	// crossReads is how many times a login, a logout and a new service token on one
	// replica are checked on the other's very next request.
	crossReads int
}

// readiness is what the fault test reads of /readyz.
type readiness struct {
	Checkpoint     uint64 `json:"checkpoint"`
	ProjectorLease *struct {
		Holder string `json:"holder"`
		Held   bool   `json:"held_here"`
	} `json:"projector_lease"`
}

func readyzOf(addr string) (readiness, int) {
	var r readiness
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return r, 0
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return r, resp.StatusCode
}

func runClusterTest(t *testing.T, plan clusterPlan) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and two replicas")
	}
	cluster := eventstoretest.NewCluster(t, 3, eventstoretest.WithSyncAlways())
	dbURL := pgtest.NewDatabase(t)
	key := hex.EncodeToString([]byte(randomHex(t, 16)))[:64]
	replicas := make([]*faultServer, 2)
	for i := range replicas {
		replicas[i] = newFaultServer(t, dbURL)
		replicas[i].args = []string{"--nats-url", cluster.URL(), "--replicas", "3", "--master-key", key}
		replicas[i].email, replicas[i].password = replicas[0].email, replicas[0].password
		replicas[i].dataDir = filepath.Join(t.TempDir(), fmt.Sprint("replica", i))
	}

	// Both replicas at the same instant, on a cluster that has no stream or bucket yet.
	var startWG sync.WaitGroup
	starts := make([]time.Duration, len(replicas))
	for i, r := range replicas {
		startWG.Go(func() { starts[i] = r.start(t) })
	}
	startWG.Wait()

	c, orgID := replicas[0].loginAndCreateOrg(t, "Cluster")
	c.replicas = []string{"http://" + replicas[0].addr, "http://" + replicas[1].addr}
	crossReplicaReads(t, c, orgID, replicas[0].email, replicas[0].password, plan.crossReads)

	var retries atomic.Int64
	logs, stop := startWriters(c, orgID, plan.writers, &retries)
	defer stop()

	// Fault 1: the event stream's leader dies.
	time.Sleep(plan.phase)
	leader, ok := cluster.StreamLeader(eventstore.StreamName)
	if !ok {
		t.Fatal("the event stream has no leader")
	}
	before := retries.Load()
	killed := time.Now()
	cluster.Kill(leader)
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	newLeader, err := cluster.WaitStreamLeader(wctx, eventstore.StreamName)
	cancel()
	if err != nil {
		t.Fatalf("no new stream leader: %v", err)
	}
	streamFailover := time.Since(killed)
	time.Sleep(plan.phase)
	streamRetries := retries.Load() - before
	cluster.Restart(t, leader)

	// Fault 2: the replica that holds the projector lease dies (kill -9). Fault 1 may
	// have taken the lease bucket's stream leader too: both replicas then lose the
	// lease until that stream has a leader again and one of them takes it (seen: 4 s
	// after the kill), so wait for a holder (bounded) rather than look once.
	time.Sleep(plan.phase)
	holder := -1
	for deadline := time.Now().Add(15 * time.Second); holder < 0 && time.Now().Before(deadline); {
		for i, r := range replicas {
			if rd, _ := readyzOf(r.addr); rd.ProjectorLease != nil && rd.ProjectorLease.Held {
				holder = i
			}
		}
		if holder < 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if holder < 0 {
		t.Fatal("no replica says it holds the projector lease")
	}
	standby := replicas[1-holder]
	before = retries.Load()
	killed = time.Now()
	replicas[holder].kill()
	var leaseFailover time.Duration
	for time.Since(killed) < 30*time.Second {
		if rd, _ := readyzOf(standby.addr); rd.ProjectorLease != nil && rd.ProjectorLease.Held {
			leaseFailover = time.Since(killed)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if leaseFailover == 0 {
		t.Fatal("the standby did not take the projector lease within 30 s")
	}
	if leaseFailover > 3*time.Second {
		t.Errorf("the standby took the projector lease %v after the holder died; the contract is 3 s", leaseFailover)
	}
	time.Sleep(plan.phase)
	stop()
	leaseRetries := retries.Load() - before

	// Every acknowledged command is there exactly once, and a retry of each returns
	// its first answer; the survivor's read models show them all.
	c.replicas = []string{"http://" + standby.addr}
	v := verifyAcknowledged(t, c, orgID, logs, &retries, true)
	fmt.Printf("cluster fault test: 3 NATS nodes (R3, fsync always), 2 replicas started together in %v and %v; %d writers; "+
		"stream leader killed (node %d -> %d): new leader after %v, %d client retries (no answer or 5xx) in the next %v; "+
		"lease holder killed (replica %d): standby projecting after %v, %d client retries in the next %v; "+
		"%d commands acknowledged, %d secrets acknowledged, %d present; wrong answers: %d\n",
		starts[0].Round(time.Millisecond), starts[1].Round(time.Millisecond), plan.writers,
		leader, newLeader, streamFailover.Round(time.Millisecond), streamRetries, plan.phase,
		holder, leaseFailover.Round(time.Millisecond), leaseRetries, plan.phase,
		v.ops, v.acknowledged, v.present, countWrong(logs))
}

// crossReplicaReads checks, n times each, that what one replica has just answered the
// other honours on the very next request: a session from a login (and its end after
// a logout), and a service token just created. Each was once read on the other
// replica from a NATS follower that had not applied it yet: a login answered 200 and
// the next request on the other replica 401 (issue: TestClusterFailover failing once
// in 8 CI runs).
func crossReplicaReads(t *testing.T, c *faultClient, orgID, email, password string, n int) {
	t.Helper()
	var login, token struct {
		Token string `json:"token"`
	}
	for i := range n {
		a, b := c.replicas[i%2], c.replicas[(i+1)%2]
		user := &faultClient{http: c.http}
		r := user.doAt(a, "POST", "/auth/login", map[string]any{"email": email, "password": password}, "")
		if r.status != http.StatusOK || json.Unmarshal(r.body, &login) != nil {
			t.Fatalf("login %d: %d %s", i, r.status, r.body)
		}
		user.token = login.Token
		if r := user.doAt(b, "GET", "/me", nil, ""); r.status != http.StatusOK {
			t.Fatalf("round %d: a session created on one replica answered %d on the other: %s", i, r.status, r.body)
		}
		r = user.doAt(a, "POST", "/orgs/"+orgID+"/service-tokens", map[string]any{"name": fmt.Sprint("ci-", i), "environments": []string{"production"}}, "")
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &token) != nil {
			t.Fatalf("service token %d: %d %s", i, r.status, r.body)
		}
		svc := &faultClient{http: c.http, token: token.Token}
		if r := svc.doAt(b, "GET", "/orgs/"+orgID+"/environments/production/values", nil, ""); r.status != http.StatusOK {
			t.Fatalf("round %d: a service token created on one replica answered %d on the other: %s", i, r.status, r.body)
		}
		if r := user.doAt(a, "POST", "/auth/logout", nil, ""); r.status != http.StatusNoContent {
			t.Fatalf("logout %d: %d %s", i, r.status, r.body)
		}
		if r := user.doAt(b, "GET", "/me", nil, ""); r.status != http.StatusUnauthorized {
			t.Fatalf("round %d: a session ended on one replica answered %d on the other", i, r.status)
		}
	}
}
