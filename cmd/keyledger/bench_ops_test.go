package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// seenRequest is a request as the server saw it, with its random values blanked out.
type seenRequest struct {
	Method, RequestURI, Host, Body string
	ContentLength                  int64
	Header                         http.Header
}

var benchValuePattern = regexp.MustCompile(`bench_[0-9a-f]{32}`)

// recordingServer answers every route the phases use with a body of the route's wire
// type, and records each request.
func recordingServer(tb testing.TB) (*httptest.Server, func() []seenRequest) {
	tb.Helper()
	var mu sync.Mutex
	var seen []seenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		// net/http asks for gzip by itself; the server compresses nothing.
		h.Del("Accept-Encoding")
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.RequestURI, r.Host, benchValuePattern.ReplaceAllString(string(body), "bench_X"), r.ContentLength, h})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		var req struct{ Name string }
		_ = json.Unmarshal(body, &req)
		switch {
		case strings.HasSuffix(r.URL.Path, "/reveal"):
			_, _ = io.WriteString(w, `{"value":"v","env":"production","version":3,"hide_after_seconds":30}`)
		case strings.HasSuffix(r.URL.Path, "/values"):
			_, _ = io.WriteString(w, `{"values":{"A":"1","B":"2"},"seq":9}`)
		case r.URL.Path == "/api/v1/orgs/o/secrets" && r.Method == http.MethodGet:
			_, _ = io.WriteString(w, `{"items":[{"id":"s1","permissions":{"reveal":true}}],"next_cursor":null}`)
		case r.URL.Path == "/api/v1/orgs/o/secrets":
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, secretRow("new", req.Name, 1))
		default:
			_, _ = io.WriteString(w, secretRow("s1", "S", 4))
		}
	}))
	tb.Cleanup(srv.Close)
	return srv, func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
}

// secretRow is a secret row as the server writes it.
func secretRow(id, name string, version int) string {
	at := time.Date(2026, 12, 6, 9, 0, 0, 123, time.UTC)
	env := wire.EnvState{Set: true, Version: 1, Mask: "benc••••", UpdatedAt: &at}
	b, err := json.Marshal(wire.Secret{SecretView: wire.SecretView{
		ID: id, Name: name, Owner: wire.Owner{ID: "u", Email: "bench@keyledger.local", Name: "Bench"}, CreatedAt: at, UpdatedAt: at,
		Version: version, Environments: wire.Environments{Production: env},
	}, Permissions: wire.Permissions{Reveal: true, Modify: true}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Every request the phases send is the typed client's, byte for byte in its method,
// target, headers (but net/http's Accept-Encoding: gzip) and JSON body (but the
// random values), so that the server does the same work for the bench as for a client.
func TestBenchRequestsAreTheTypedClients(t *testing.T) {
	t.Parallel()
	srv, seen := recordingServer(t)
	b, w := newTestBench(t, srv.URL)
	b.deepCursor = "c/ü+1"
	typed, err := client.New(srv.URL, client.WithToken("tok"), client.WithUserAgent("keyledger-bench"))
	if err != nil {
		t.Fatal(err)
	}
	service, err := client.New(srv.URL, client.WithToken("kl_st_svc"), client.WithUserAgent("keyledger-bench"))
	if err != nil {
		t.Fatal(err)
	}
	phases := map[string]benchPhase{}
	for _, p := range b.phases() {
		phases[p.name] = p
	}
	ctx := t.Context()
	b.ids = []string{"s1"}
	prod := client.Production
	value := func() *string { return new(benchValue()) }
	version := 7
	b.hotVersion.Store(7)
	b.hot, b.hotChecked = "s1", "s1"
	for _, c := range []struct {
		name  string
		typed func() error
		bench func() error
	}{
		{"create", func() error {
			_, err := typed.CreateSecret(ctx, "o", client.CreateSecretRequest{Name: "BENCH_NEW_0000001", Values: map[string]string{prod: benchValue()}})
			return err
		}, func() error { return phases["create"].op(ctx, w) }},
		{"seed", func() error {
			_, err := typed.CreateSecret(ctx, "o", client.CreateSecretRequest{Name: "BENCH_SEED_0000042", Values: map[string]string{
				client.Development: benchValue(), client.Staging: benchValue(), client.Production: benchValue()}})
			return err
		}, func() error {
			_, err := b.createSecret(ctx, w, []byte("BENCH_SEED_0000042"), client.Development, client.Production, client.Staging)
			return err
		}},
		{"read one secret", func() error { _, err := typed.GetSecret(ctx, "o", "s1"); return err },
			func() error { return phases["read one secret"].op(ctx, w) }},
		{"hot update", func() error {
			_, err := typed.UpdateSecret(ctx, "o", "s1", client.UpdateSecretRequest{Values: map[string]*string{prod: value()}})
			return err
		}, func() error { return phases["hot update"].op(ctx, w) }},
		{"hot update, expected_version", func() error {
			_, err := typed.UpdateSecret(ctx, "o", "s1", client.UpdateSecretRequest{Values: map[string]*string{prod: value()}, ExpectedVersion: &version})
			return err
		}, func() error { return phases["hot update, expected_version"].op(ctx, w) }},
		{"grid first page", func() error { _, err := typed.ListSecrets(ctx, "o", client.SecretFilter{Limit: 100}); return err },
			func() error { return phases["grid first page"].op(ctx, w) }},
		{"grid deep page", func() error {
			_, err := typed.ListSecrets(ctx, "o", client.SecretFilter{Limit: 100, Cursor: b.deepCursor})
			return err
		}, func() error { return phases["grid deep page"].op(ctx, w) }},
		{"grid q= search", func() error {
			_, err := typed.ListSecrets(ctx, "o", client.SecretFilter{Limit: 100, Q: "seed_00000"})
			return err
		},
			func() error { return phases["grid q= search"].op(ctx, w) }},
		{"reveal", func() error { _, err := typed.RevealSecret(ctx, "o", "s1", prod); return err },
			func() error { return phases["reveal"].op(ctx, w) }},
		{"values (service token)", func() error { _, err := service.Values(ctx, "o", prod); return err },
			func() error { return phases["values (service token)"].op(ctx, w) }},
	} {
		if err := c.typed(); err != nil {
			t.Fatalf("%s, typed client: %v", c.name, err)
		}
		want := seen()
		if err := c.bench(); err != nil {
			t.Fatalf("%s, bench: %v", c.name, err)
		}
		got := seen()
		if len(want) != 1 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the bench sent\n%+v\nthe typed client\n%+v", c.name, got, want)
		}
	}
}

// problemServer answers with a problem: 404 not_found for a read, 409
// version_conflict for an update, and bodies of the wrong shape under /bad.
func problemServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch {
		case strings.Contains(r.URL.Path, "/bad-shape"):
			_, _ = io.WriteString(w, `{"id":3}`)
		case strings.Contains(r.URL.Path, "/trailing"):
			_, _ = io.WriteString(w, secretRow("trailing", "X", 1)+` {}`)
		case strings.Contains(r.URL.Path, "/other"):
			_, _ = io.WriteString(w, secretRow("someone-else", "X", 1))
		case strings.Contains(r.URL.Path, "/plain"):
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>bad gateway</html>")
		case r.Method == http.MethodPatch:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"type":"about:blank","title":"Conflict","status":409,"detail":"The secret changed.","code":"version_conflict"}`)
		default:
			w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"type":"about:blank","title":"Not Found","status":404,"detail":"No such secret.","code":"not_found"}`)
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// An answer outside 2xx is the error the typed client returns for it, field for field
// (client.IsCode works on it); a 2xx whose body is not the answer's wire type, has
// anything after it, or is about another secret is an error too.
func TestBenchErrorsAreTheTypedClients(t *testing.T) {
	t.Parallel()
	srv := problemServer(t)
	b, w := newTestBench(t, srv.URL)
	typed, err := client.New(srv.URL, client.WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, c := range []struct {
		name, code, kind string
		typed, bench     func() error
	}{
		{"404", client.CodeNotFound, "404 not_found",
			func() error { _, err := typed.GetSecret(ctx, "o", "missing"); return err },
			func() error { _, err := b.getSecret(ctx, w, "missing"); return err }},
		{"409", client.CodeVersionConflict, "409 version_conflict",
			func() error {
				v := 1
				_, err := typed.UpdateSecret(ctx, "o", "s1", client.UpdateSecretRequest{Values: map[string]*string{"production": new("x")}, ExpectedVersion: &v})
				return err
			},
			func() error { v := 1; _, err := b.updateSecret(ctx, w, "s1", &v); return err }},
		{"502 not a problem", "", "502",
			func() error { _, err := typed.GetSecret(ctx, "o", "plain"); return err },
			func() error { _, err := b.getSecret(ctx, w, "plain"); return err }},
	} {
		want, got := c.typed(), c.bench()
		var apiErr *client.Error
		if !errors.As(got, &apiErr) || !reflect.DeepEqual(got, want) || errorKind(got) != c.kind || (c.code != "" && !client.IsCode(got, c.code)) {
			t.Errorf("%s: the bench's error %#v (%s), the typed client's %#v", c.name, got, errorKind(got), want)
		}
	}
	for _, id := range []string{"bad-shape", "trailing", "other"} {
		if _, err := b.getSecret(ctx, w, id); err == nil || errorKind(err) != "other" {
			t.Errorf("a 200 with body %s: %v", id, err)
		}
	}
	if _, err := b.getSecret(ctx, w, "missing"); !client.IsCode(err, client.CodeNotFound) {
		t.Errorf("the connection after malformed answers: %v", err)
	}
}

// The expected_version phase counts a 409 as an error and learns the newest version
// from a read, as it did through the typed client; its next update then succeeds.
func TestBenchCheckedUpdateLearnsTheNewestVersion(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ExpectedVersion *int `json:"expected_version"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet:
			_, _ = io.WriteString(w, secretRow("hot", "H", 7))
		case req.ExpectedVersion == nil || *req.ExpectedVersion != 7:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"title":"Conflict","status":409,"code":"version_conflict"}`)
		default:
			_, _ = io.WriteString(w, secretRow("hot", "H", 8))
		}
	}))
	t.Cleanup(srv.Close)
	b, w := newTestBench(t, srv.URL)
	b.hotChecked = "hot"
	b.hotVersion.Store(3)
	if err := b.checkedUpdate(t.Context(), w); errorKind(err) != "409 version_conflict" || b.hotVersion.Load() != 7 {
		t.Fatalf("a stale update: %v, version %d", err, b.hotVersion.Load())
	}
	if err := b.checkedUpdate(t.Context(), w); err != nil || b.hotVersion.Load() != 8 {
		t.Fatalf("the next update: %v, version %d", err, b.hotVersion.Load())
	}
}

// The bench pads its numbered names as the typed client's requests would have them
// (its strings are jsonappend's, which compares them with encoding/json's).
func TestBenchPaddedNumbers(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0000000", 42: "0000042", 12345678: "12345678"} {
		if got := string(appendPadded(nil, n, 7)); got != want {
			t.Errorf("%d: %s, want %s", n, got, want)
		}
	}
}

// The check of a secret row passes what the server writes and refuses, among what the
// typed client's decode into wire.Secret refused, every body that is not whole JSON or
// whose id, name, version, environments or permissions are missing or of another type;
// it reads the id, name and version the decode would.
func TestParseSecretAnswerRefusesWhatTheDecodeRefused(t *testing.T) {
	t.Parallel()
	row := secretRow("0193a5b2-7c1d", "BENCH_SEED_0000042", 12)
	got, err := parseSecretAnswer([]byte(row))
	if err != nil || string(got.id) != "0193a5b2-7c1d" || string(got.name) != "BENCH_SEED_0000042" || got.version != 12 {
		t.Fatalf("%s: %+v, %v", row, got, err)
	}
	spaced := strings.NewReplacer(`":`, `" : `, `,"`, ` ,  "`, `{`, "{\n\t").Replace(row)
	if got, err := parseSecretAnswer([]byte(spaced)); err != nil || got.version != 12 || string(got.id) != "0193a5b2-7c1d" {
		t.Fatalf("%s: %+v, %v", spaced, got, err)
	}
	escaped := strings.Replace(row, `"name":"BENCH_SEED_0000042"`, `"name":"A\"\u00e9\\"`, 1)
	if got, err := parseSecretAnswer([]byte(escaped)); err != nil || string(got.name) != `A"é\` {
		t.Fatalf("%s: %+v, %v", escaped, got, err)
	}
	for name, body := range map[string]string{
		"truncated":      row[:len(row)-1],
		"trailing value": row + ` {}`,
		"not an object":  `[` + row + `]`,
		"empty":          ``,
	} {
		if _, err := parseSecretAnswer([]byte(body)); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
	// Well-formed JSON whose fields have types the decode refuses.
	for name, body := range map[string]string{
		"version a string":     withField(t, row, "version", "12"),
		"version a fraction":   withField(t, row, "version", 12.5),
		"id a number":          withField(t, row, "id", 7),
		"name an object":       withField(t, row, "name", map[string]any{}),
		"environments a list":  withField(t, row, "environments", []any{}),
		"permissions a string": withField(t, row, "permissions", "all"),
	} {
		var s wire.Secret
		if err := json.Unmarshal([]byte(body), &s); err == nil {
			t.Fatalf("%s: the decode passed %s", name, body)
		}
		if _, err := parseSecretAnswer([]byte(body)); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
	for name, body := range map[string]string{
		"no id":           strings.Replace(row, `"id":"0193a5b2-7c1d",`, ``, 1),
		"no version":      strings.Replace(row, `"version":12,`, ``, 1),
		"no permissions":  strings.Replace(row, `,"permissions":{"reveal":true,"modify":true,"delete":false}`, ``, 1),
		"no environments": `{"id":"x","name":"y","version":1,"permissions":{}}`,
	} {
		if _, err := parseSecretAnswer([]byte(body)); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
}

// withField is the JSON object row with field key set to value.
func withField(tb testing.TB, row, key string, value any) string {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(row), &m); err != nil {
		tb.Fatal(err)
	}
	m[key] = value
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
