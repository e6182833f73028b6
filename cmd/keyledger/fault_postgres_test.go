package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/projections/pgcluster"
)

// TestPostgresDownUnderWrites is the short form of the read-side outage test that
// `make test` runs; TestStressPostgresDown (stress tag) stops Postgres for 30 s.
func TestPostgresDownUnderWrites(t *testing.T) {
	t.Parallel()
	runPostgresDownTest(t, 6*time.Second, 3)
}

// runPostgresDownTest stops the server's PostgreSQL for outage while writers create
// and update secrets: every command must still be recorded and answered with its
// success, and the read models must catch up within 5 s of PostgreSQL returning,
// with nothing lost or doubled.
func runPostgresDownTest(t *testing.T, outage time.Duration, writers int) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and the binary")
	}
	ctx := context.Background()
	// As root, PostgreSQL runs as its own account, which must be able to enter the
	// cluster's directory: t.TempDir's parent is private to the test's user.
	tmp, err := os.MkdirTemp("", "keyledger-outage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "pg")
	pg, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatalf("start PostgreSQL from the machine's binaries: %v", err)
	}
	port := pg.Port()
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	dbURL, err := pg.EnsureDatabase(ctx, "outage")
	if err != nil {
		t.Fatal(err)
	}
	srv := newFaultServer(t, dbURL)
	srv.start(t)
	c, orgID := srv.loginAndCreateOrg(t, "Outage")

	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	// Reads are refused as unavailable, with when to retry: they were 500s.
	for _, path := range []string{"/orgs", "/orgs/" + orgID + "/secrets", "/orgs/" + orgID + "/members", "/orgs/" + orgID + "/audit"} {
		a := c.do("GET", path, nil, "")
		if a.status != http.StatusServiceUnavailable || a.retryAfter == "" || !strings.Contains(string(a.body), `"code":"unavailable"`) {
			t.Errorf("GET %s while PostgreSQL is down: %d (Retry-After %q) %s, want 503 unavailable with Retry-After", path, a.status, a.retryAfter, a.body)
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lastSeq uint64
		acked   = map[string]int{} // secret name -> acknowledged version
		wrong   []string
		ops     atomic.Int64
	)
	stopWriting := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopWriting:
					return
				default:
				}
				name := fmt.Sprintf("OUT_W%d_%03d", w, i)
				a := c.do("POST", "/orgs/"+orgID+"/secrets", map[string]any{"name": name, "values": map[string]any{"production": "v1-" + name}}, "")
				var s secretState
				if a.status != http.StatusCreated || json.Unmarshal(a.body, &s) != nil || s.Name != name {
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("create %s during the outage: %d %s", name, a.status, a.body))
					mu.Unlock()
					continue
				}
				b := c.do("PATCH", "/orgs/"+orgID+"/secrets/"+s.ID, map[string]any{"values": map[string]any{"staging": "v2"}, "expected_version": 1}, "")
				var u secretState
				if b.status != http.StatusOK || json.Unmarshal(b.body, &u) != nil || u.Version != 2 {
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("update %s during the outage: %d %s", name, b.status, b.body))
					mu.Unlock()
					continue
				}
				seq, _ := strconv.ParseUint(b.seq, 10, 64)
				ops.Add(2)
				mu.Lock()
				acked[name] = 2
				lastSeq = max(lastSeq, seq)
				mu.Unlock()
			}
		})
	}
	time.Sleep(outage)
	close(stopWriting)
	wg.Wait()
	pg, err = pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Port: port, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })

	// The read models catch up: the list shows every acknowledged secret.
	var caughtUp time.Duration
	var items []secretState
	for time.Since(back) < 60*time.Second {
		all, err := c.listSecrets(orgID)
		if err == nil && len(all) >= len(acked) {
			caughtUp, items = time.Since(back), all
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, msg := range wrong {
		t.Error(msg)
	}
	if caughtUp == 0 {
		t.Fatalf("read models did not catch up within 60 s of PostgreSQL returning")
	}
	if caughtUp > 5*time.Second {
		t.Errorf("read models caught up %v after PostgreSQL returned, promised 5 s", caughtUp)
	}
	present := map[string]int{}
	for _, s := range items {
		if _, dup := present[s.Name]; dup {
			t.Errorf("%s listed twice", s.Name)
		}
		present[s.Name] = s.Version
	}
	for name, v := range acked {
		if present[name] != v {
			t.Errorf("%s: read model version %d, acknowledged %d", name, present[name], v)
		}
	}
	if len(present) != len(acked) {
		t.Errorf("%d secrets in the read model, %d acknowledged", len(present), len(acked))
	}
	fmt.Printf("PostgreSQL down for %v under %d writers: %d commands answered with success (last seq %d), %d wrong answers; "+
		"read models caught up %v after PostgreSQL returned\n",
		back.Sub(down).Round(time.Millisecond), writers, ops.Load(), lastSeq, len(wrong), caughtUp.Round(time.Millisecond))
}
