package main

import (
	"bufio"
	"context"
	"errors"
	"hash/maphash"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
)

// newTestBench is a benchRun of organization o, as token tok (kl_st_svc for the values
// fetch), against the server at rawURL, and one worker of it.
func newTestBench(tb testing.TB, rawURL string) (*benchRun, *benchWorker) {
	tb.Helper()
	base, err := parseBase(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	b := &benchRun{cfg: &benchConfig{LagRate: defaultLagRate}, org: "o", token: "tok", serviceToken: "kl_st_svc", base: base, paths: newBenchPaths("o"), pageSeed: maphash.MakeSeed()}
	w := &benchWorker{rng: mrand.New(mrand.NewPCG(1, 2)), conn: newBenchConn(base)}
	tb.Cleanup(w.conn.close)
	return b, w
}

// scriptedAnswer is what a scripted server writes to a request: these bytes, then it
// closes the connection or not.
type scriptedAnswer struct {
	raw   string
	close bool
}

// scriptedRequest is a request a scripted server received.
type scriptedRequest struct {
	method, path, body string
	header             http.Header
}

// newScriptedServer answers each request (read whole) with answers[its path], and
// counts its connections: HTTP as the bytes say it, whether well-formed or not.
func newScriptedServer(tb testing.TB, answers map[string]scriptedAnswer) (string, *atomic.Int32, func() []scriptedRequest) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var conns atomic.Int32
	var mu sync.Mutex
	var got []scriptedRequest
	var wg sync.WaitGroup
	tb.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(r)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					mu.Lock()
					got = append(got, scriptedRequest{req.Method, req.URL.Path, string(body), req.Header})
					mu.Unlock()
					a, ok := answers[req.URL.Path]
					if !ok {
						return
					}
					if _, err := io.WriteString(c, a.raw); err != nil || a.close {
						return
					}
				}
			})
		}
	})
	requests := func() []scriptedRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]scriptedRequest(nil), got...)
	}
	return "http://" + ln.Addr().String(), &conns, requests
}

// chunked is body as a chunked HTTP/1.1 answer in chunks of at most size bytes, with a
// chunk extension and a trailer.
func chunked(body string, size int) string {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
	for len(body) > 0 {
		n := min(size, len(body))
		b.WriteString(strconv.FormatInt(int64(n), 16) + ";ext=1\r\n" + body[:n] + "\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\nX-Trailer: yes\r\n\r\n")
	return b.String()
}

func sized(status, body string, headers ...string) string {
	h := ""
	for _, x := range headers {
		h += x + "\r\n"
	}
	return "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\n" + h + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// A benchConn reads what an HTTP/1.1 server may answer, on one connection for as
// long as the server keeps it: sized and chunked bodies (a chunk extension, a trailer,
// a body far larger than the read buffer), no body (204), an interim 100 first, a body
// that ends with the connection; every method the phases send arrives whole; after a
// Connection: close or a body that ends with the connection it dials again.
func TestBenchConnReadsEveryAnswer(t *testing.T) {
	t.Parallel()
	big := `{"values":{` + strings.Repeat(`"K":"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",`, 5000) + `"K":"v"},"seq":1}`
	answers := map[string]scriptedAnswer{
		"/sized":       {raw: sized("200 OK", `{"a":1}`)},
		"/created":     {raw: sized("201 Created", `{"a":2}`, "Location: /x")},
		"/chunked":     {raw: chunked(`{"a":[1,2,3],"b":"chunked"}`, 5)},
		"/big-chunked": {raw: chunked(big, 7000)},
		"/big-sized":   {raw: sized("200 OK", big)},
		"/empty":       {raw: "HTTP/1.1 204 No Content\r\n\r\n"},
		"/continue":    {raw: "HTTP/1.1 100 Continue\r\n\r\n" + sized("200 OK", `{"a":3}`)},
		"/close":       {raw: sized("200 OK", `{"a":4}`, "Connection: close"), close: true},
		"/to-eof":      {raw: "HTTP/1.1 200 OK\r\n\r\n{\"a\":5}", close: true},
		"/http10":      {raw: "HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":6}", close: true},
	}
	url, conns, requests := newScriptedServer(t, answers)
	_, w := newTestBench(t, url)
	ctx := t.Context()
	for _, step := range []struct {
		method, path, body, want string
		conns                    int32
	}{
		{"GET", "/sized", "", `{"a":1}`, 1},
		{"POST", "/created", `{"name":"X"}`, `{"a":2}`, 1},
		{"PATCH", "/chunked", `{"values":{}}`, `{"a":[1,2,3],"b":"chunked"}`, 1},
		{"GET", "/big-chunked", "", big, 1},
		{"GET", "/big-sized", "", big, 1},
		{"DELETE", "/empty", "", "", 1},
		{"GET", "/continue", "", `{"a":3}`, 1},
		{"GET", "/sized?limit=100", "", `{"a":1}`, 1},
		{"GET", "/close", "", `{"a":4}`, 1},
		{"POST", "/sized", `{"env":"production"}`, `{"a":1}`, 2},
		{"GET", "/to-eof", "", `{"a":5}`, 2},
		{"GET", "/http10", "", `{"a":6}`, 3},
		{"GET", "/sized", "", `{"a":1}`, 4},
	} {
		var body []byte
		if step.body != "" {
			body = []byte(step.body)
		}
		got, err := w.conn.do(ctx, step.method, "tok", body, step.path)
		if err != nil || string(got) != step.want {
			t.Fatalf("%s %s: %.80q, %v", step.method, step.path, got, err)
		}
		if n := conns.Load(); n != step.conns {
			t.Fatalf("%s %s: %d connections so far, want %d", step.method, step.path, n, step.conns)
		}
	}
	reqs := requests()
	if len(reqs) != 13 {
		t.Fatalf("%d requests arrived, want 13", len(reqs))
	}
	for _, r := range reqs {
		if r.header.Get("Authorization") != "Bearer tok" || r.header.Get("User-Agent") != "keyledger-bench" || r.header.Get("Accept") != "application/json" {
			t.Errorf("%s %s: headers %v", r.method, r.path, r.header)
		}
		if (r.body != "") != (r.header.Get("Content-Type") == "application/json") {
			t.Errorf("%s %s with body %q: Content-Type %q", r.method, r.path, r.body, r.header.Get("Content-Type"))
		}
	}
	if r := reqs[2]; r.method != "PATCH" || r.body != `{"values":{}}` {
		t.Errorf("the PATCH arrived as %s %q", r.method, r.body)
	}
}

// An answer cut short, or one that is not HTTP, is a *client.NetworkError, as the
// typed client's net/http makes it one; the next request dials again.
func TestBenchConnAnswerCutShortIsANetworkError(t *testing.T) {
	t.Parallel()
	answers := map[string]scriptedAnswer{
		"/ok":        {raw: sized("200 OK", `{}`)},
		"/cut-head":  {raw: "HTTP/1.1 200 OK\r\nContent-Le", close: true},
		"/cut-body":  {raw: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":", close: true},
		"/cut-chunk": {raw: chunked(`{"a":"bbbbbbbbbbbbbbbbbbbb"}`, 4)[:90], close: true},
		"/no-answer": {raw: "", close: true},
		"/not-http":  {raw: "SSH-2.0-OpenSSH_9.6\r\n\r\n", close: true},
		"/bad-chunk": {raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", close: true},
		"/gzip-te":   {raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", close: true},
	}
	url, conns, _ := newScriptedServer(t, answers)
	_, w := newTestBench(t, url)
	// Each cut answer comes on the connection the /ok before it used, and the /ok
	// after it dials a new one.
	for i, path := range []string{"/cut-head", "/cut-body", "/cut-chunk", "/no-answer", "/not-http", "/bad-chunk", "/gzip-te"} {
		_, err := w.conn.do(t.Context(), http.MethodGet, "tok", nil, path)
		var netErr *client.NetworkError
		if !errors.As(err, &netErr) || errorKind(err) != "network" || netErr.Method != "GET" || netErr.URL != url+path {
			t.Fatalf("%s: %v, want a network error", path, err)
		}
		if _, err := w.conn.do(t.Context(), http.MethodGet, "tok", nil, "/ok"); err != nil {
			t.Fatalf("after %s: %v", path, err)
		}
		if n := conns.Load(); n != int32(i+2) {
			t.Fatalf("after %s: %d connections, want %d", path, n, i+2)
		}
	}
}

// A request that outlasts its context's deadline is a timeout, and one whose context
// is cancelled ends at once with the context's error, as with the typed client; the
// next request dials again.
func TestBenchConnKeepsToTheContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	_, w := newTestBench(t, srv.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := w.conn.do(ctx, http.MethodGet, "tok", nil, "/slow"); !errors.Is(err, context.DeadlineExceeded) || errorKind(err) != "timeout" {
		t.Fatalf("past the deadline: %v", err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	if _, err := w.conn.do(ctx, http.MethodGet, "tok", nil, "/slow"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a cancelled request took %v", took)
	}
	if _, err := w.conn.do(t.Context(), http.MethodGet, "tok", nil, "/fast"); err != nil {
		t.Fatalf("after a timeout: %v", err)
	}
}
