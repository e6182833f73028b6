package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
)

// The peer (--vault): issue 11 set its targets against OpenBao, measured side by side
// with Keyledger on one machine by one load generator. With --vault the bench starts a
// fresh HashiCorp Vault or OpenBao server instead of Keyledger (the same HTTP API) and
// runs the phases both have with the same workers, connections and request pacing:
// seeding, create, read one secret, and the hot updates (Vault's check-and-set for
// expected_version). Vault keeps KV v2 on its integrated (raft) storage, one node,
// fsynced, as the peer did; a read of a KV v2 secret answers its values, so
// "read one secret" there is a reveal without an audit record. Its "reveal" phase, last,
// reads the same way with a file audit device enabled (every request and answer
// written to a log, its secrets HMAC'd, not fsynced): Keyledger's reveal is a read
// whose audit record is in the log, on disk, before it answers.

// vaultBenchMount is where the peer's KV v2 engine is mounted.
const vaultBenchMount = "secret"

// vaultServer is a Vault (or OpenBao) server the bench started: a benchServer for its
// process (stats, stop), its root token and the version it reports.
type vaultServer struct {
	srv *benchServer
	// dir holds the server's configuration, storage and logs.
	dir     string
	token   string
	version string
	http    *http.Client
}

// vaultConfig is the server's configuration: raft storage under dataDir, TLS off, on
// loopback ports of its own.
func vaultConfig(dataDir string, apiPort, clusterPort int) string {
	return fmt.Sprintf(`storage "raft" {
  path    = %q
  node_id = "bench"
}
listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = "127.0.0.1:%d"
  tls_disable     = true
}
api_addr      = "http://127.0.0.1:%d"
cluster_addr  = "https://127.0.0.1:%d"
disable_mlock = true
ui            = false
log_level     = "warn"
`, dataDir, apiPort, clusterPort, apiPort, clusterPort)
}

// freePorts are n loopback TCP ports nothing listens on right now.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("bench: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startVaultServer runs binary as a one-node server with its raft storage under dir,
// initialises it with one unseal key, unseals it and mounts KV v2, and returns once a
// secret can be written. The child gets none of the caller's VAULT_ or BAO_ variables.
func startVaultServer(ctx context.Context, binary, dir string, logger *slog.Logger) (_ *vaultServer, err error) {
	if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o700); err != nil {
		return nil, fmt.Errorf("bench: vault data dir: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "vault.hcl")
	if err := os.WriteFile(cfgPath, []byte(vaultConfig(filepath.Join(dir, "raft"), ports[0], ports[1])), 0o600); err != nil {
		return nil, fmt.Errorf("bench: vault config: %w", err)
	}
	s := &benchServer{logPath: filepath.Join(dir, "server.log"), exited: make(chan struct{}), baseURL: "http://127.0.0.1:" + strconv.Itoa(ports[0])}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("bench: server log: %w", err)
	}
	s.cmd = exec.Command(binary, "server", "-config="+cfgPath)
	s.cmd.Env = withoutVars(os.Environ(), "VAULT_", "BAO_")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("bench: start %s server: %w", binary, err), logFile.Close())
	}
	s.pid = s.cmd.Process.Pid
	go func() {
		s.waitErr = s.cmd.Wait()
		_ = logFile.Close()
		close(s.exited)
	}()
	defer func() {
		if err != nil {
			err = errors.Join(err, s.stop(context.WithoutCancel(ctx)))
		}
	}()
	logger.Info("bench: vault starting", "pid", s.pid, "log", s.logPath)
	v := &vaultServer{srv: s, dir: dir, http: &http.Client{Timeout: 30 * time.Second}}
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	if err := v.await(ctx, func(status int) bool { return status != 0 }); err != nil {
		return nil, err
	}
	var init struct {
		Keys      []string `json:"keys"`
		RootToken string   `json:"root_token"`
	}
	if err := v.call(ctx, http.MethodPut, "/v1/sys/init", `{"secret_shares":1,"secret_threshold":1}`, &init); err != nil {
		return nil, err
	}
	if len(init.Keys) != 1 || init.RootToken == "" {
		return nil, errors.New("bench: vault init answered no unseal key or root token")
	}
	v.token = init.RootToken
	body, _ := json.Marshal(map[string]string{"key": init.Keys[0]})
	if err := v.call(ctx, http.MethodPut, "/v1/sys/unseal", string(body), nil); err != nil {
		return nil, err
	}
	// 200 once this node is the active one (raft elects it alone).
	if err := v.await(ctx, func(status int) bool { return status == http.StatusOK }); err != nil {
		return nil, err
	}
	var health struct {
		Version string `json:"version"`
	}
	if err := v.call(ctx, http.MethodGet, "/v1/sys/health", "", &health); err != nil {
		return nil, err
	}
	v.version = health.Version
	if err := v.call(ctx, http.MethodPost, "/v1/sys/mounts/"+vaultBenchMount, `{"type":"kv","options":{"version":"2"}}`, nil); err != nil {
		return nil, err
	}
	// A new KV v2 mount refuses writes while it sets itself up, for a moment.
	for {
		err := v.call(ctx, http.MethodPost, "/v1/"+vaultBenchMount+"/data/BENCH_PROBE", `{"data":{"probe":"1"}}`, nil)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bench: vault's KV v2 mount never took a write: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	logger.Info("bench: vault ready", "url", s.baseURL, "version", v.version)
	return v, nil
}

// await polls /v1/sys/health until ready says yes to its status (0 when nothing
// answered), the server exits, or ctx ends.
func (v *vaultServer) await(ctx context.Context, ready func(status int) bool) error {
	for {
		status := 0
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.srv.baseURL+"/v1/sys/health", nil)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if resp, err := v.http.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			status = resp.StatusCode
		}
		if ready(status) {
			return nil
		}
		select {
		case <-v.srv.exited:
			return fmt.Errorf("bench: vault exited during start-up (%v): %s", v.srv.waitErr, v.srv.logTail())
		case <-ctx.Done():
			return fmt.Errorf("bench: vault did not start (last status %d): %w; %s", status, ctx.Err(), v.srv.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// call sends an untimed request with the root token (once there is one) and decodes a
// 2xx answer's body into out, when out is not nil.
func (v *vaultServer) call(ctx context.Context, method, path, body string, out any) error {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.srv.baseURL+path, r)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if v.token != "" {
		req.Header.Set("X-Vault-Token", v.token)
	}
	resp, err := v.http.Do(req)
	if err != nil {
		return fmt.Errorf("bench: vault %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("bench: vault %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("bench: vault %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("bench: vault %s %s: %w", method, path, err)
		}
	}
	return nil
}

// benchVaultOnce runs the peer's phases once on a fresh server of its own under dir.
func benchVaultOnce(ctx context.Context, c *benchConfig, dir string, lat *latencyLog, logger *slog.Logger) (report *benchReport, err error) {
	v, err := startVaultServer(ctx, c.Vault, filepath.Join(dir, "vault"), logger)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, v.srv.stop(context.WithoutCancel(ctx))) }()
	base, err := parseBase(v.srv.baseURL)
	if err != nil {
		return nil, err
	}
	b := &benchRun{cfg: c, srv: v.srv, logger: logger, http: v.http, token: v.token, base: base, latency: lat}
	report = newBenchReport(c)
	// The binary's name says which of the two it is (vault, bao): both report only a
	// version number.
	report.Server = filepath.Base(c.Vault) + " " + v.version
	report.Database = "none (KV v2 on the peer's raft storage)"
	seed, err := b.seedVault(ctx)
	if err != nil {
		return nil, err
	}
	report.Phases = append(report.Phases, seed)
	if err := b.runPhases(ctx, report, b.vaultPhases()); err != nil {
		return nil, err
	}
	reveal := benchPhase{"reveal", b.vaultReadRandom, 0}
	if c.wantsPhase(reveal.name) {
		body, _ := json.Marshal(map[string]any{"type": "file", "options": map[string]string{"file_path": filepath.Join(v.dir, "audit.log")}})
		if err := v.call(ctx, http.MethodPost, "/v1/sys/audit/bench", string(body), nil); err != nil {
			return nil, err
		}
		if err := b.runPhases(ctx, report, []benchPhase{reveal}); err != nil {
			return nil, err
		}
	}
	return report, nil
}

// seedVault writes the two hot secrets and cfg.Secrets others, each with a value in
// every environment, as seed does on Keyledger.
func (b *benchRun) seedVault(ctx context.Context) (benchPhaseResult, error) {
	w := &benchWorker{conn: newBenchConn(b.base)}
	defer w.conn.close()
	for i, hot := range []*string{&b.hot, &b.hotChecked} {
		name := "BENCH_HOT_" + strconv.Itoa(i)
		version, err := b.vaultWrite(ctx, w, name, nil, client.Production)
		if err != nil {
			return benchPhaseResult{}, fmt.Errorf("bench: write a hot secret: %w", err)
		}
		*hot = name
		if i == 1 {
			b.hotVersion.Store(int64(version))
		}
	}
	envs := []string{client.Development, client.Production, client.Staging}
	return b.seedWith(ctx, func(ctx context.Context, w *benchWorker, name []byte) (string, error) {
		_, err := b.vaultWrite(ctx, w, string(name), nil, envs...)
		return string(name), err
	})
}

// vaultPhases are the timed phases both servers have, under Keyledger's names and in
// its order.
func (b *benchRun) vaultPhases() []benchPhase {
	prod := client.Production
	return []benchPhase{
		{"create", func(ctx context.Context, w *benchWorker) error {
			w.name = appendPadded(append(w.name[:0], "BENCH_NEW_"...), int(b.created.Add(1)), 7)
			_, err := b.vaultWrite(ctx, w, string(w.name), nil, prod)
			return err
		}, 0},
		{"read one secret", b.vaultReadRandom, 0},
		{"hot update", func(ctx context.Context, w *benchWorker) error {
			_, err := b.vaultWrite(ctx, w, b.hot, nil, prod)
			return err
		}, 0},
		{"hot update, expected_version", b.vaultCheckedUpdate, 0},
	}
}

// vaultReadRandom reads a random seeded secret: read one secret, and (with the audit
// device on) reveal.
func (b *benchRun) vaultReadRandom(ctx context.Context, w *benchWorker) error {
	_, err := b.vaultRead(ctx, w, b.ids[w.rng.IntN(len(b.ids))])
	return err
}

// vaultCheckedUpdate is checkedUpdate on the peer: a check-and-set write of the hot
// secret at the newest version any client has seen; a refusal is an error of the phase,
// after which the client reads the secret again to learn the version it missed.
func (b *benchRun) vaultCheckedUpdate(ctx context.Context, w *benchWorker) error {
	v := int(b.hotVersion.Load())
	version, err := b.vaultWrite(ctx, w, b.hotChecked, &v, client.Production)
	if err == nil {
		b.noteHotVersion(version)
		return nil
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest {
		if fresh, gerr := b.vaultRead(ctx, w, b.hotChecked); gerr == nil {
			b.noteHotVersion(fresh)
		}
	}
	return err
}

// vaultPath is the escaped KV v2 data path of the secret name.
func vaultPath(name string) string {
	return "/v1/" + vaultBenchMount + "/data/" + url.PathEscape(name)
}

// appendVaultWrite appends a KV v2 write's body: a fresh value in each of envs, with a
// check-and-set version when cas is not nil.
func appendVaultWrite(b []byte, cas *int, envs []string) []byte {
	b = append(b, '{')
	if cas != nil {
		b = append(b, `"options":{"cas":`...)
		b = strconv.AppendInt(b, int64(*cas), 10)
		b = append(b, "},"...)
	}
	b = appendBenchValueMap(append(b, `"data":`...), envs)
	return append(b, '}')
}

// vaultWrite writes a fresh value of secret name in each of envs (check-and-set at
// cas when not nil) and returns the version it made.
func (b *benchRun) vaultWrite(ctx context.Context, w *benchWorker, name string, cas *int, envs ...string) (int, error) {
	w.body = appendVaultWrite(w.body[:0], cas, envs)
	answer, err := w.conn.do(ctx, http.MethodPost, b.token, w.body, vaultPath(name))
	if err != nil {
		return 0, err
	}
	return parseVaultVersion(answer)
}

// vaultRead reads secret name, values and all, and returns its current version.
func (b *benchRun) vaultRead(ctx context.Context, w *benchWorker, name string) (int, error) {
	answer, err := w.conn.do(ctx, http.MethodGet, b.token, nil, vaultPath(name))
	if err != nil {
		return 0, err
	}
	var out struct {
		Data struct {
			Data     map[string]string `json:"data"`
			Metadata struct {
				Version int `json:"version"`
			} `json:"metadata"`
		} `json:"data"`
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		return 0, fmt.Errorf("bench: decode vault's read of %s: %w", name, err)
	}
	if len(out.Data.Data) == 0 {
		return 0, fmt.Errorf("bench: vault's read of %s answered no value", name)
	}
	return out.Data.Metadata.Version, nil
}

// parseVaultVersion reads the version a KV v2 write answers ({"data":{"version":N,…}}).
func parseVaultVersion(answer []byte) (int, error) {
	var out struct {
		Data struct {
			Version int `json:"version"`
		} `json:"data"`
	}
	if err := json.Unmarshal(answer, &out); err != nil {
		return 0, fmt.Errorf("bench: decode vault's write answer: %w", err)
	}
	if out.Data.Version < 1 {
		return 0, errors.New("bench: vault's write answered no version")
	}
	return out.Data.Version, nil
}
