package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// kvServer answers a KV v2 mount's data endpoints as Vault does: a write answers the
// version it made (or 400 when its check-and-set version is not the current one), a
// read the values and metadata. It checks what the bench sends: the token as a bearer,
// a JSON body with fresh values under "data".
type kvServer struct {
	t        *testing.T
	mu       sync.Mutex
	versions map[string]int
	values   map[string]map[string]string
}

func newKVServer(t *testing.T) *httptest.Server {
	kv := &kvServer{t: t, versions: map[string]int{}, values: map[string]map[string]string{}}
	srv := httptest.NewServer(kv)
	t.Cleanup(srv.Close)
	return srv
}

func (kv *kvServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	name, ok := strings.CutPrefix(r.URL.Path, "/v1/secret/data/")
	if !ok || r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodGet:
		v, ok := kv.versions[name]
		if !ok {
			http.Error(w, `{"errors":[]}`, http.StatusNotFound)
			return
		}
		data, _ := json.Marshal(kv.values[name])
		fmt.Fprintf(w, `{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,"data":{"data":%s,"metadata":{"created_time":"2026-12-07T16:00:00Z","custom_metadata":null,"deletion_time":"","destroyed":false,"version":%d}},"wrap_info":null,"warnings":null,"auth":null}`, data, v)
	case http.MethodPost:
		var req struct {
			Options *struct {
				CAS *int `json:"cas"`
			} `json:"options"`
			Data map[string]string `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Data) == 0 {
			kv.t.Errorf("write of %s: body %v, data %v", name, err, req.Data)
			http.Error(w, `{"errors":["no data provided"]}`, http.StatusBadRequest)
			return
		}
		for env, v := range req.Data {
			if !strings.HasPrefix(v, "bench_") || len(v) != len("bench_")+32 {
				kv.t.Errorf("write of %s: %s = %q, not a fresh bench value", name, env, v)
			}
		}
		if req.Options != nil && req.Options.CAS != nil && *req.Options.CAS != kv.versions[name] {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"errors":["check-and-set parameter did not match the current version"]}`)
			return
		}
		kv.versions[name]++
		kv.values[name] = req.Data
		fmt.Fprintf(w, `{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,"data":{"created_time":"2026-12-07T16:00:00Z","custom_metadata":null,"deletion_time":"","destroyed":false,"version":%d},"wrap_info":null,"warnings":null,"auth":null}`, kv.versions[name])
	default:
		http.Error(w, `{"errors":[]}`, http.StatusMethodNotAllowed)
	}
}

// The peer's operations send what Vault's KV v2 API takes and read what it answers: a
// write's version, a read's values, a check-and-set refused and learnt from.
func TestBenchVaultOperations(t *testing.T) {
	t.Parallel()
	srv := newKVServer(t)
	b, w := newTestBench(t, srv.URL)
	ctx := t.Context()

	v, err := b.vaultWrite(ctx, w, "BENCH_SEED_0000001", nil, "development", "production", "staging")
	if err != nil || v != 1 {
		t.Fatalf("first write: version %d, %v", v, err)
	}
	if v, err = b.vaultWrite(ctx, w, "BENCH_SEED_0000001", nil, "production"); err != nil || v != 2 {
		t.Fatalf("second write: version %d, %v", v, err)
	}
	if v, err := b.vaultRead(ctx, w, "BENCH_SEED_0000001"); err != nil || v != 2 {
		t.Fatalf("read: version %d, %v", v, err)
	}
	if _, err := b.vaultRead(ctx, w, "BENCH_NONE"); errorKind(err) != "404" {
		t.Fatalf("read of a secret never written: %v (%s)", err, errorKind(err))
	}

	// A check-and-set at a stale version is an error of the phase, and the client
	// learns the current version from a read; the next write at it goes through.
	if _, err := b.vaultWrite(ctx, w, "BENCH_HOT_1", nil, "production"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.vaultWrite(ctx, w, "BENCH_HOT_1", nil, "production"); err != nil {
		t.Fatal(err)
	}
	b.hotChecked = "BENCH_HOT_1"
	b.hotVersion.Store(1)
	if err := b.vaultCheckedUpdate(ctx, w); errorKind(err) != "400" || b.hotVersion.Load() != 2 {
		t.Fatalf("a stale check-and-set: %v (%s), version %d", err, errorKind(err), b.hotVersion.Load())
	}
	if err := b.vaultCheckedUpdate(ctx, w); err != nil || b.hotVersion.Load() != 3 {
		t.Fatalf("the next check-and-set: %v, version %d", err, b.hotVersion.Load())
	}
}

func TestBenchVaultWriteBody(t *testing.T) {
	t.Parallel()
	cas := 7
	for _, tc := range []struct {
		cas  *int
		envs []string
	}{{nil, []string{"production"}}, {&cas, []string{"development", "production", "staging"}}} {
		body := appendVaultWrite(nil, tc.cas, tc.envs)
		var got struct {
			Options map[string]int    `json:"options"`
			Data    map[string]string `json:"data"`
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if len(got.Data) != len(tc.envs) {
			t.Errorf("%s: values %v, want one in each of %v", body, got.Data, tc.envs)
		}
		if (tc.cas == nil) != (got.Options == nil) || (tc.cas != nil && got.Options["cas"] != *tc.cas) {
			t.Errorf("%s: options %v, want cas %v", body, got.Options, tc.cas)
		}
	}
}

func TestParseVaultVersion(t *testing.T) {
	t.Parallel()
	if v, err := parseVaultVersion([]byte(`{"request_id":"x","data":{"created_time":"2026-12-07T16:00:00Z","destroyed":false,"version":12},"warnings":null}`)); err != nil || v != 12 {
		t.Errorf("version %d, %v", v, err)
	}
	for _, bad := range []string{`{"data":{}}`, `{"errors":["x"]}`, `{"data":{"version":"1"}}`, ``, `[]`} {
		if v, err := parseVaultVersion([]byte(bad)); err == nil {
			t.Errorf("%q: version %d, want an error", bad, v)
		}
	}
}

// The peer's configuration keeps its raft storage in the bench's temp dir and listens
// on loopback only, without TLS (the bench speaks plain HTTP, as to Keyledger).
func TestVaultConfig(t *testing.T) {
	t.Parallel()
	cfg := vaultConfig("/tmp/bench dir/raft", 18200, 18201)
	for _, want := range []string{`storage "raft"`, `path    = "/tmp/bench dir/raft"`, `address         = "127.0.0.1:18200"`,
		`cluster_address = "127.0.0.1:18201"`, `tls_disable     = true`, `api_addr      = "http://127.0.0.1:18200"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s:\n%s", want, cfg)
		}
	}
}

func TestBenchVaultTakesNoDatabaseNorKeyledgerBinary(t *testing.T) {
	t.Parallel()
	c := &benchConfig{Secrets: 1, Clients: 1, SeedClients: 1, Duration: 1, Timeout: 1, LagRate: 1, Runs: 1, Vault: "/usr/bin/vault", DatabaseURL: "postgres://x"}
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--vault") {
		t.Fatalf("validate: %v", err)
	}
	c.DatabaseURL, c.Binary = "", "bin/keyledger"
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--binary") {
		t.Fatalf("validate: %v", err)
	}
	c.Binary = ""
	if err := c.validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
}

func TestWithoutVars(t *testing.T) {
	t.Parallel()
	got := withoutVars([]string{"PATH=/bin", "VAULT_TOKEN=x", "BAO_ADDR=y", "HOME=/root", "VAULTED=z"}, "VAULT_", "BAO_")
	if strings.Join(got, " ") != "PATH=/bin HOME=/root VAULTED=z" {
		t.Errorf("%v", got)
	}
}
