package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/keyledger/keyledger/httpapi/client"
)

// The bench's reveal client sends what the typed client sends and checks the answer
// as it does: a 2xx with the reveal's shape, else an error by status and problem
// code; it keeps its connection across reveals and dials again when the server
// closes it.
func TestBenchRevealConnChecksEveryAnswer(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok" ||
			r.Header.Get("Content-Type") != "application/json" || string(body) != `{"env":"production"}` {
			t.Errorf("request %s %s %v %q", r.Method, r.URL.Path, r.Header, body)
		}
		switch r.URL.Path {
		case "/api/v1/orgs/o/secrets/good/reveal":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"value":"v","env":"production","version":3,"hide_after_seconds":30}`)
		case "/api/v1/orgs/o/secrets/closing/reveal":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, `{"value":"v","env":"production","version":1,"hide_after_seconds":30}`)
		case "/api/v1/orgs/o/secrets/bad/reveal":
			_, _ = io.WriteString(w, `{"value":3}`)
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"type":"about:blank","code":"not_found","title":"Not Found","detail":"No such secret.","status":404}`)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	base, err := parseBase(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var rc revealConn
	defer rc.close()
	ctx := context.Background()
	reveal := func(id string) error {
		_, err := rc.reveal(ctx, base, "tok", "o", id, "production")
		return err
	}
	for range 3 {
		got, err := rc.reveal(ctx, base, "tok", "o", "good", "production")
		if err != nil || got.Value != "v" || got.Version != 3 {
			t.Fatalf("reveal: %+v, %v", got, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("three reveals opened %d connections, want 1", n)
	}
	var apiErr *client.Error
	if err := reveal("missing"); !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Code != "not_found" || errorKind(err) != "404 not_found" {
		t.Fatalf("a 404: %v", err)
	}
	if err := reveal("bad"); err == nil || errorKind(err) != "other" {
		t.Fatalf("a 200 whose body is not a reveal: %v", err)
	}
	if err := reveal("closing"); err != nil {
		t.Fatal(err)
	}
	if err := reveal("good"); err != nil {
		t.Fatalf("after the server closed the connection: %v", err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (one more after the server closed one)", n)
	}
	srv.Close()
	var netErr *client.NetworkError
	if err := reveal("good"); !errors.As(err, &netErr) {
		t.Fatalf("a server gone: %v, want a network error", err)
	}
}
