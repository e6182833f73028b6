package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/projections"
	"github.com/keyledger/keyledger/projections/pgtest"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// call sends a JSON request to the server's API and decodes a JSON answer into out;
// an answer other than 2xx fails the test.
func (s *server) call(tb testing.TB, method, path, token string, body, out any) http.Header {
	tb.Helper()
	status, h := s.send(tb, method, path, token, body, out)
	if status >= 300 {
		tb.Fatalf("%s %s: %d", method, path, status)
	}
	return h
}

// send sends a JSON request to the server's API and decodes a 2xx JSON answer into out.
func (s *server) send(tb testing.TB, method, path, token string, body, out any) (int, http.Header) {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequestWithContext(tb.Context(), method, s.baseURL+"/api/v1"+path, bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			tb.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// login logs the dev bootstrap admin in and returns a bearer token.
func (s *server) login(tb testing.TB) string {
	tb.Helper()
	var r struct{ Token string }
	s.call(tb, "POST", "/auth/login", "", map[string]string{"email": "admin@keyledger.local", "password": s.password}, &r)
	return r.Token
}

// createOrg runs a command and returns the stream sequence it produced. The answer's
// status is not checked: when the projection lags past the API's wait, the recorded
// command may answer from a read model that does not show it yet, and the caller
// measures that lag itself.
func (s *server) createOrg(tb testing.TB, token, name string) uint64 {
	tb.Helper()
	status, h := s.send(tb, "POST", "/orgs", token, map[string]string{"name": name}, nil)
	seq, err := strconv.ParseUint(h.Get("X-Keyledger-Seq"), 10, 64)
	if err != nil {
		tb.Fatalf("POST /orgs answered %d with X-Keyledger-Seq %q: %v", status, h.Get("X-Keyledger-Seq"), err)
	}
	return seq
}

// openReadModels opens the server's database from the test, after the server has
// migrated it, to watch the projection's checkpoint.
func openReadModels(tb testing.TB, dbURL string) *projections.ReadModels {
	tb.Helper()
	db, err := projections.Open(tb.Context(), dbURL, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	return db
}

// waitCheckpoint polls until the read models reach seq or limit passes, and says when.
func waitCheckpoint(tb testing.TB, progress *projections.Progress, seq uint64, limit time.Duration) (time.Time, bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		cp, err := progress.Checkpoint(tb.Context())
		if err != nil {
			tb.Fatal(err)
		}
		if cp >= seq {
			return time.Now(), true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRestartAfterKillProjectsAtOnce: after kill -9 the restarted sole owner of an
// embedded data dir takes the projector lease its previous life still holds, so a
// command's effect is in the read models within a second of the restart rather than
// after the old lease's 9 s TTL.
func TestRestartAfterKillProjectsAtOnce(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dbURL := pgtest.NewDatabase(t)
	dataDir := t.TempDir()
	env := cleanEnv()
	args := []string{"--dev", "--data-dir", dataDir, "--database-url", dbURL}

	first := startServer(t, bin, env, args...)
	// The session outlives the process (it is in the log), so the restarted server's
	// first request is the command itself, with no login in the measured time.
	token := first.login(t)
	first.createOrg(t, token, "Before the crash")
	first.kill(t)

	restarted := startServer(t, bin, env, args...)
	seq := restarted.createOrg(t, token, "After the restart")
	db := openReadModels(t, dbURL)
	at, ok := waitCheckpoint(t, db.Progress, seq, 15*time.Second)
	if !ok {
		t.Fatalf("the read models never reached sequence %d after the restart", seq)
	}
	took := at.Sub(restarted.ready)
	t.Logf("restart: exec to welcome %v; welcome to the command's effect in the read models %v (the command included)",
		restarted.ready.Sub(restarted.started).Round(time.Millisecond), took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("read models current %v after the restart, want within 1s", took.Round(time.Millisecond))
	}
}

// startExternalNATS runs a NATS server with JetStream on a loopback port, standing in
// for a production cluster that several replicas share.
func startExternalNATS(tb testing.TB) string {
	tb.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(tb.TempDir(), "js"), NoSigs: true, NoLog: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		tb.Fatal("external nats not ready")
	}
	tb.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

// TestExternalNATSRespectsAnotherReplicasLease: on a shared NATS another replica may be
// alive, so a starting server leaves its projector lease alone, and takes over only
// when that replica stops.
func TestExternalNATSRespectsAnotherReplicasLease(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	dbURL := pgtest.NewDatabase(t)
	natsURL := startExternalNATS(t)
	ctx := t.Context()

	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	master, err := eventstore.ParseMasterKey(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	store, err := eventstore.Open(ctx, nc, master, eventstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other := eventstoretest.HoldLease(t, store, projections.CheckpointName, "another-replica", projectorLeaseTTL, time.Second)

	startServer(t, bin, cleanEnv(), "--nats-url", natsURL, "--master-key", testMasterKey, "--database-url", dbURL,
		"--data-dir", t.TempDir(),
		"--bootstrap-admin-email", "admin@example.com", "--bootstrap-admin-password", "a long enough password")
	head, err := store.LastSeq(ctx)
	if err != nil || head == 0 {
		t.Fatalf("the bootstrap admin left no event: head %d, %v", head, err)
	}
	db := openReadModels(t, dbURL)
	if _, ok := waitCheckpoint(t, db.Progress, head, 2*time.Second); ok {
		t.Fatal("the server projected while another replica held the lease")
	}

	other.Release(t)
	if _, ok := waitCheckpoint(t, db.Progress, head, 15*time.Second); !ok {
		t.Fatal("the server did not take the lease over after the other replica released it")
	}
}
