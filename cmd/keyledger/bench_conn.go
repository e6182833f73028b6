package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
)

// benchConn is one worker's own HTTP/1.1 keep-alive connection to the server, which
// every timed phase sends its requests on. The bench runs on the same two cores as the
// server it measures, so whatever CPU a request costs the bench is CPU the server does
// not get. Through the typed client (net/http's connection goroutines and their
// hand-offs, a header map per request and per answer, encoding/json both ways) the
// bench spent about as much CPU per operation as the server did. A benchConn writes
// the request into a reused buffer with append and strconv, and reads the answer with
// http.ReadResponse on its own bufio.Reader, the body into another reused buffer; the
// answers are checked by hand, not decoded (bench_answer.go). At 20,000 secrets, two runs of
// each build back to back, the bench process's own CPU per operation (from /proc) went
// from the typed client's (net/http's for grid pages) to this: read one secret
// 101-108 → 30-32 µs (the server's 74-79 → 52-54), create 142-163 → 58-66 (server
// 530-700), hot update 159-165 → 51-55 (server 360-430), a grid page 81-105 → 49-58,
// mixed 114-116 → 44-49, a values fetch of 20,000 values 34-39 → 7-9 ms (server 50-66
// ms), reveal (already on a raw connection, but through http.ReadResponse) 56-62 →
// 48-58; read one went from 8,240-8,705 to 16,421-17,447/s and a grid page from
// 8,255-10,137 to 10,429-12,906/s.
//
// It sends what the typed client sends (Host, User-Agent, Authorization: Bearer,
// Accept: application/json, and Content-Type and Content-Length with a body), but for
// net/http's Accept-Encoding: gzip, which the server ignores (it compresses nothing).
// It classifies failures as the typed client does: an answer outside 2xx is the
// *client.Error client.ResponseError makes of it, a failure to talk to the server (no
// connection, a broken or malformed answer) a *client.NetworkError, and a context that
// ended its error. After a failure, or an answer that closes the connection, the next
// request dials again.
type benchConn struct {
	base *url.URL // http://host:port
	conn net.Conn
	r    *bufio.Reader
	req  []byte // the request being sent
	body []byte // the last answer's body
	// status is the last answer's status.
	status int
}

// newBenchConn is a connection to the server at base, dialed on its first request.
func newBenchConn(base *url.URL) benchConn { return benchConn{base: base} }

// close drops the connection, if any.
func (c *benchConn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn, c.r = nil, nil
	}
}

// farPast is a deadline that has passed: it interrupts a read or write under way.
var farPast = time.Unix(1, 0)

// do sends method on the path made of the parts of path (escaped already, the query
// included) as token, with body as JSON when it is not nil, and returns the body of a
// 2xx answer. The body is the connection's buffer: it is valid until the next call.
func (c *benchConn) do(ctx context.Context, method, token string, body []byte, path ...string) ([]byte, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.base.Host)
		if err != nil {
			return nil, c.failed(ctx, time.Time{}, method, path, err)
		}
		c.conn, c.r = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	deadline, _ := ctx.Deadline() // zero, no deadline, without one
	if err := c.conn.SetDeadline(deadline); err != nil {
		return nil, c.failed(ctx, deadline, method, path, err)
	}
	// A context cancelled before its deadline interrupts the request too, as it does
	// net/http's. A connection it may have interrupted is not used again.
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(farPast) })
	defer func() {
		if !stop() {
			c.close()
		}
	}()

	c.req = appendBenchRequest(c.req[:0], method, c.base.Host, token, body, path)
	if _, err := c.conn.Write(c.req); err != nil {
		return nil, c.failed(ctx, deadline, method, path, err)
	}
	resp, err := c.readResponse()
	if err != nil {
		return nil, c.failed(ctx, deadline, method, path, err)
	}
	c.status = resp.StatusCode
	if resp.Close {
		c.close()
	}
	if c.status < 200 || c.status > 299 {
		resp.Body = io.NopCloser(bytes.NewReader(c.body))
		return nil, client.ResponseError(resp)
	}
	return c.body, nil
}

// readResponse reads one answer (passing over interim 1xx ones) with
// http.ReadResponse, and its whole body into c.body.
func (c *benchConn) readResponse() (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil {
			return nil, err
		}
		buf := bytes.NewBuffer(c.body[:0])
		_, err = buf.ReadFrom(resp.Body)
		_ = resp.Body.Close()
		c.body = buf.Bytes()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// failed closes the connection (its state is unknown) and returns err as the typed
// client would: the context's error when it ended (a read that passed the context's
// deadline is its timeout too), else a *client.NetworkError.
func (c *benchConn) failed(ctx context.Context, deadline time.Time, method string, path []string, err error) error {
	c.close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) && !deadline.IsZero() && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	p := strings.Join(path, "")
	p, _, _ = strings.Cut(p, "?")
	return &client.NetworkError{Method: method, URL: c.base.Scheme + "://" + c.base.Host + p, Err: err}
}

// appendBenchRequest appends the request's bytes to b.
func appendBenchRequest(b []byte, method, host, token string, body []byte, path []string) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	for _, p := range path {
		b = append(b, p...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: keyledger-bench\r\nAccept: application/json\r\n"...)
	if token != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, token...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// errNoBaseURL is returned when the server's address does not parse.
var errNoBaseURL = errors.New("keyledger bench: the server's URL does not parse")

// parseBase parses the server's base URL (http://host:port) for benchConn.
func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Scheme != "http" {
		return nil, errNoBaseURL
	}
	return u, nil
}
