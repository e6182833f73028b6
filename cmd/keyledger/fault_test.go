package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyledger/keyledger/projections/pgtest"
)

// TestKillNineUnderWriters is the short form of the crash fault test that
// `make test` runs; TestStressKillNine (stress tag) kills the server 20 times.
func TestKillNineUnderWriters(t *testing.T) {
	t.Parallel()
	runKillTest(t, killTestPlan{kills: 3, writers: 4, interval: 1500 * time.Millisecond})
}

// killTestPlan is how hard runKillTest hits the server.
type killTestPlan struct {
	kills    int
	writers  int
	interval time.Duration // running time between two kills
}

// faultServer is a `keyledger serve` child process on a data dir and database that
// outlive it, so that it can be killed and started again. Without args it runs with
// --dev (embedded NATS); args replace that (a replica on an external cluster).
type faultServer struct {
	bin, dataDir, dbURL, addr string
	email, password           string
	args, env                 []string
	cmd                       *exec.Cmd
	log                       *os.File
}

// newFaultServer prepares a server on dbURL ("" for a new test database).
func newFaultServer(t *testing.T, dbURL string) *faultServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	if dbURL == "" {
		dbURL = pgtest.NewDatabase(t)
	}
	s := &faultServer{
		bin: buildBinary(t), dataDir: filepath.Join(dir, "data"), dbURL: dbURL, addr: addr,
		email: "fault@example.com", password: "a long fault-test passphrase " + randomHex(t, 8), log: logFile,
	}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("server log (last 4 KiB):\n%s", tail(b, 4096))
		}
	})
	return s
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// start runs the server and waits until /readyz answers 200; it returns how long that took.
func (s *faultServer) start(t *testing.T) time.Duration {
	t.Helper()
	began := time.Now()
	args := s.args
	if args == nil {
		args = []string{"--dev"}
	}
	cmd := exec.Command(s.bin, append([]string{"serve", "--data-dir", s.dataDir, "--addr", s.addr}, args...)...)
	cmd.Env = append(append(os.Environ(), "KEYLEDGER_DATABASE_URL="+s.dbURL,
		"KEYLEDGER_BOOTSTRAP_ADMIN_EMAIL="+s.email, "KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD="+s.password), s.env...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(began)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server not ready within 60 s")
	return 0
}

// loginAndCreateOrg logs the bootstrap admin in and creates an organization.
func (s *faultServer) loginAndCreateOrg(t *testing.T, name string) (*faultClient, string) {
	t.Helper()
	c := &faultClient{base: "http://" + s.addr, http: &http.Client{Timeout: 30 * time.Second}}
	var login struct {
		Token string `json:"token"`
	}
	a := c.do("POST", "/auth/login", map[string]any{"email": s.email, "password": s.password}, "")
	if a.status != http.StatusOK || json.Unmarshal(a.body, &login) != nil {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	c.token = login.Token
	var org struct {
		ID string `json:"id"`
	}
	a = c.do("POST", "/orgs", map[string]any{"name": name}, "")
	if a.status != http.StatusCreated || json.Unmarshal(a.body, &org) != nil {
		t.Fatalf("create org: %d %s", a.status, a.body)
	}
	return c, org.ID
}

// kill sends SIGKILL and reaps the process.
func (s *faultServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// answer is one HTTP answer; status 0 means no answer (connection refused or reset).
type answer struct {
	status     int
	body       []byte
	seq        string
	retryAfter string
}

// faultClient calls one server, or several replicas behind it as a load balancer
// would: a replica that does not answer is passed over for the next one.
type faultClient struct {
	base, token string
	http        *http.Client
	replicas    []string // when set, requests rotate through them
	next        atomic.Int64
}

func (c *faultClient) do(method, path string, body any, key string) answer {
	if len(c.replicas) == 0 {
		return c.doAt(c.base, method, path, body, key)
	}
	start := int(c.next.Add(1))
	var a answer
	for i := range c.replicas {
		a = c.doAt(c.replicas[(start+i)%len(c.replicas)], method, path, body, key)
		if a.status != 0 {
			return a
		}
	}
	return a
}

func (c *faultClient) doAt(base, method, path string, body any, key string) answer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+"/api/v1"+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}
	}
	return answer{status: resp.StatusCode, body: b, seq: resp.Header.Get("X-Keyledger-Seq"), retryAfter: resp.Header.Get("Retry-After")}
}

// untilAnswered sends a request with its Idempotency-Key until the server answers
// with something other than "no answer" or a 5xx (the server is down or restarting),
// or ctx ends. Writers pass a context that does not end: a command they started is
// finished, so that what the log holds and what was acknowledged can be compared.
func (c *faultClient) untilAnswered(ctx context.Context, method, path string, body any, key string, retries *atomic.Int64) answer {
	for {
		a := c.do(method, path, body, key)
		if a.status != 0 && a.status < 500 {
			return a
		}
		if ctx.Err() != nil {
			return a
		}
		retries.Add(1)
		time.Sleep(50 * time.Millisecond)
	}
}

// listSecrets reads every page of an organization's secrets.
func (c *faultClient) listSecrets(orgID string) ([]secretState, error) {
	var all []secretState
	cursor := ""
	for {
		path := "/orgs/" + orgID + "/secrets?limit=1000"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		a := c.do("GET", path, nil, "")
		var page struct {
			Items      []secretState `json:"items"`
			NextCursor *string       `json:"next_cursor"`
		}
		if a.status != http.StatusOK || json.Unmarshal(a.body, &page) != nil {
			return nil, fmt.Errorf("list secrets: %d %s", a.status, a.body)
		}
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all, nil
		}
		cursor = *page.NextCursor
	}
}

// acked is one acknowledged command and the answer it got, for the replay check.
type acked struct {
	method, path, key string
	body              any
	answer            answer
}

type secretState struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Version      int    `json:"version"`
	Environments map[string]struct {
		Set     bool `json:"set"`
		Version int  `json:"version"`
	} `json:"environments"`
}

// writerLog is what one writer did: its secrets, their acknowledged versions and last
// values, the commands it may replay, and every wrong answer it saw.
type writerLog struct {
	secrets map[string]*secretState // by name
	values  map[string]string       // name -> last acknowledged production value
	acked   []acked
	wrong   []string
	ops     int
}

func runKillTest(t *testing.T, plan killTestPlan) {
	srv := newFaultServer(t, "")
	firstStart := srv.start(t)
	c, orgID := srv.loginAndCreateOrg(t, "Faults")

	var retries atomic.Int64
	logs, stop := startWriters(c, orgID, plan.writers, &retries)
	defer stop()

	var restarts []time.Duration
	for range plan.kills {
		time.Sleep(plan.interval)
		srv.kill()
		restarts = append(restarts, srv.start(t))
	}
	time.Sleep(plan.interval)
	stop()
	// A final crash and restart: what was acknowledged must all be there.
	srv.kill()
	restarts = append(restarts, srv.start(t))

	v := verifyAcknowledged(t, c, orgID, logs, &retries, true)
	slices.Sort(restarts)
	fmt.Printf("kill -9 fault test: %d kills under %d writers; %d commands acknowledged, %d retries after no answer or 5xx, "+
		"%d acknowledged commands retried afterwards with their key; %d secrets acknowledged, %d present; wrong answers: %d; "+
		"first start %v, restart to ready p50 %v max %v\n",
		plan.kills, plan.writers, v.ops, retries.Load(), v.replayed, v.acknowledged, v.present, countWrong(logs),
		firstStart.Round(time.Millisecond), restarts[len(restarts)/2].Round(time.Millisecond), restarts[len(restarts)-1].Round(time.Millisecond))
}

// startWriters starts n writers on orgID; stop ends them once each has finished the
// command it is in.
func startWriters(c *faultClient, orgID string, n int, retries *atomic.Int64) ([]*writerLog, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := make([]*writerLog, n)
	var wg sync.WaitGroup
	for w := range n {
		logs[w] = &writerLog{secrets: map[string]*secretState{}, values: map[string]string{}}
		wg.Go(func() { runWriter(ctx, c, orgID, w, logs[w], retries) })
	}
	return logs, func() { cancel(); wg.Wait() }
}

// verified is what verifyAcknowledged counted.
type verified struct {
	ops, replayed, acknowledged, present int
}

// verifyAcknowledged holds the server to what the writers were told: no wrong answer,
// every acknowledged command retried with its key returns its first answer, every
// acknowledged secret is listed exactly once (once the read models have caught up) at
// its acknowledged versions, and, with reveal, reveals its last acknowledged value.
func verifyAcknowledged(t *testing.T, c *faultClient, orgID string, logs []*writerLog, retries *atomic.Int64, reveal bool) verified {
	t.Helper()
	var v verified
	for w, l := range logs {
		v.ops += l.ops
		v.acknowledged += len(l.secrets)
		for _, msg := range l.wrong {
			t.Errorf("writer %d: %s", w, msg)
		}
		for _, ack := range l.acked {
			again := c.untilAnswered(context.Background(), ack.method, ack.path, ack.body, ack.key, retries)
			if again.status != ack.answer.status || !bytes.Equal(again.body, ack.answer.body) || again.seq != ack.answer.seq {
				t.Errorf("writer %d: retry of %s %s (key %s) answered %d %s (seq %s), first %d %s (seq %s)", w, ack.method, ack.path, ack.key,
					again.status, again.body, again.seq, ack.answer.status, ack.answer.body, ack.answer.seq)
			}
			v.replayed++
		}
	}
	var items []secretState
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		all, err := c.listSecrets(orgID)
		if err == nil && len(all) >= v.acknowledged {
			items = all
			break
		}
	}
	present := map[string]secretState{}
	for _, s := range items {
		if _, dup := present[s.Name]; dup {
			t.Errorf("secret %s listed twice", s.Name)
		}
		present[s.Name] = s
	}
	v.present = len(present)
	for _, l := range logs {
		for name, s := range l.secrets {
			got, ok := present[name]
			if !ok {
				t.Errorf("acknowledged secret %s is missing", name)
				continue
			}
			if got.ID != s.ID || got.Version != s.Version || got.Environments["production"].Version != s.Environments["production"].Version {
				t.Errorf("secret %s: present %+v, acknowledged %+v", name, got, *s)
			}
			if !reveal {
				continue
			}
			var rev struct {
				Value string `json:"value"`
			}
			r := c.untilAnswered(context.Background(), "POST", "/orgs/"+orgID+"/secrets/"+s.ID+"/reveal", map[string]any{"env": "production"}, "", retries)
			if r.status != http.StatusOK || json.Unmarshal(r.body, &rev) != nil || rev.Value != l.values[name] {
				t.Errorf("secret %s reveals %d %s, acknowledged value %q", name, r.status, r.body, l.values[name])
			}
		}
	}
	if v.present != v.acknowledged {
		t.Errorf("%d secrets present, %d acknowledged", v.present, v.acknowledged)
	}
	return v
}

func countWrong(logs []*writerLog) int {
	n := 0
	for _, l := range logs {
		n += len(l.wrong)
	}
	return n
}

// runWriter creates secrets and updates and reveals them, each command with its own
// Idempotency-Key, retried with that key until the server answers. Every answer that
// is not the command's success is wrong: the writer owns its secrets, so nothing
// else can make its commands fail.
func runWriter(ctx context.Context, c *faultClient, orgID string, w int, l *writerLog, retries *atomic.Int64) {
	// ctx only says when to stop starting commands.
	base := "/orgs/" + orgID + "/secrets"
	expect := func(what string, a answer, status int) bool {
		if a.status == status {
			l.ops++
			return true
		}
		if a.status != 0 {
			l.wrong = append(l.wrong, fmt.Sprintf("%s answered %d %s", what, a.status, a.body))
		}
		return false
	}
	var current *secretState
	for i := 0; ctx.Err() == nil; i++ {
		key := fmt.Sprintf("w%d-op%d", w, i)
		switch {
		case current == nil || i%6 == 0:
			name := fmt.Sprintf("W%d_SECRET_%04d", w, i)
			value := fmt.Sprintf("value-%d-%d-%s", w, i, name)
			body := map[string]any{"name": name, "values": map[string]any{"production": value}}
			a := c.untilAnswered(context.Background(), "POST", base, body, key, retries)
			if !expect("create "+name, a, http.StatusCreated) {
				continue
			}
			var s secretState
			if err := json.Unmarshal(a.body, &s); err != nil || s.Name != name || s.Version != 1 {
				l.wrong = append(l.wrong, fmt.Sprintf("create %s answered %s", name, a.body))
				continue
			}
			l.secrets[name], l.values[name], current = &s, value, &s
			l.acked = append(l.acked, acked{method: "POST", path: base, key: key, body: body, answer: a})
		case i%3 == 2:
			a := c.untilAnswered(context.Background(), "POST", base+"/"+current.ID+"/reveal", map[string]any{"env": "production"}, key, retries)
			var rev struct {
				Value string `json:"value"`
			}
			if expect("reveal "+current.Name, a, http.StatusOK) && (json.Unmarshal(a.body, &rev) != nil || rev.Value != l.values[current.Name]) {
				l.wrong = append(l.wrong, fmt.Sprintf("reveal %s gave %q, last acknowledged %q", current.Name, rev.Value, l.values[current.Name]))
			}
		default:
			value := fmt.Sprintf("update-%d-%d", w, i)
			body := map[string]any{"values": map[string]any{"production": value}}
			if i%2 == 0 {
				body["expected_version"] = current.Version
			}
			path := base + "/" + current.ID
			a := c.untilAnswered(context.Background(), "PATCH", path, body, key, retries)
			if !expect("update "+current.Name, a, http.StatusOK) {
				continue
			}
			var s secretState
			if err := json.Unmarshal(a.body, &s); err != nil || s.Version != current.Version+1 {
				l.wrong = append(l.wrong, fmt.Sprintf("update %s from version %d answered %s", current.Name, current.Version, a.body))
				continue
			}
			*current = s
			l.values[current.Name] = value
			l.acked = append(l.acked, acked{method: "PATCH", path: path, key: key, body: body, answer: a})
		}
	}
}
