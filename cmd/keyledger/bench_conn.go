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
// the few rules of HTTP/1.1 a client needs (status line, Content-Length, chunked
// bodies, Connection: close) into another reused buffer, as wrk and h2load do; the
// answers are checked by hand too (bench_answer.go). At 20,000 secrets, two runs of
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
	// contentType is the last answer's first Content-Type (empty without one), for
	// its error.
	contentType []byte
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

// maxBenchBody bounds an answer's body: a values fetch of 100,000 secrets is some 7 MB.
const maxBenchBody = 1 << 30

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
	status, keep, err := c.readResponse(method == http.MethodHead)
	if err != nil {
		return nil, c.failed(ctx, deadline, method, path, err)
	}
	c.status = status
	if !keep {
		c.close()
	}
	if status < 200 || status > 299 {
		return nil, benchResponseError(status, c.contentType, c.body)
	}
	return c.body, nil
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

// benchResponseError is the error the typed client returns for an answer of status,
// contentType and body outside 2xx: client.ResponseError's, from an equivalent
// response.
func benchResponseError(status int, contentType, body []byte) error {
	resp := &http.Response{
		StatusCode: status,
		Header:     http.Header{},
		Body:       io.NopCloser(bytes.NewReader(body)),
	}
	if contentType != nil {
		resp.Header.Set("Content-Type", string(contentType))
	}
	return client.ResponseError(resp)
}

// Errors of an answer that is not HTTP/1.1 as this reader knows it.
var (
	errBenchStatusLine       = errors.New("malformed HTTP status line")
	errBenchHeader           = errors.New("malformed HTTP header")
	errBenchContentLength    = errors.New("bad Content-Length")
	errBenchTransferEncoding = errors.New("unsupported Transfer-Encoding")
	errBenchChunk            = errors.New("malformed chunked body")
	errBenchTooLarge         = errors.New("body too large")
)

// readResponse reads one answer: its status, whether the connection stays open after
// it, and its body (none after a HEAD) into c.body. Interim (1xx) answers are passed
// over.
func (c *benchConn) readResponse(head bool) (status int, keep bool, err error) {
	for {
		status, keep, err = c.readOne(head)
		if err != nil {
			return 0, false, err
		}
		if status >= 200 || status == http.StatusSwitchingProtocols {
			return status, keep, nil
		}
	}
}

// readOne reads the status line and the headers of an answer, then its body.
func (c *benchConn) readOne(head bool) (status int, keep bool, err error) {
	line, err := c.readLine()
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK": the version, a space, three digits, then a space or the end.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, false, errBenchStatusLine
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, errBenchStatusLine
		}
		status = status*10 + int(d-'0')
	}
	if status < 100 {
		return 0, false, errBenchStatusLine
	}
	keep = line[7] == '1' // HTTP/1.1 keeps the connection unless told; 1.0 closes it
	length, chunked := int64(-1), false
	c.contentType = c.contentType[:0]
	haveType := false
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, false, err
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, false, errBenchHeader
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case headerIs(name, "Content-Length"):
			n, ok := parseContentLength(value)
			if !ok || (length >= 0 && n != length) {
				return 0, false, errBenchContentLength
			}
			length = n
		case headerIs(name, "Transfer-Encoding"):
			if !headerIs(value, "chunked") {
				return 0, false, errBenchTransferEncoding
			}
			chunked = true
		case headerIs(name, "Connection"):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				switch tok = bytes.TrimSpace(tok); {
				case headerIs(tok, "close"):
					keep = false
				case headerIs(tok, "keep-alive") && line[7] == '0':
					keep = true
				}
			}
		case headerIs(name, "Content-Type") && !haveType:
			c.contentType, haveType = append(c.contentType, value...), true
		}
	}
	c.body = c.body[:0]
	switch {
	case head || status < 200 || status == http.StatusNoContent || status == http.StatusNotModified:
		// No body.
	case chunked:
		err = c.readChunked()
	case length >= 0:
		err = c.readSized(length)
	default:
		// No length: the body runs until the server closes the connection.
		keep = false
		err = c.readToEOF()
	}
	return status, keep, err
}

// readLine reads one line of the head, without its CRLF; it is valid until the next
// read.
func (c *benchConn) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errBenchHeader
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readSized reads a body of n bytes.
func (c *benchConn) readSized(n int64) error {
	if n > maxBenchBody {
		return errBenchTooLarge
	}
	c.body = grow(c.body, int(n))
	_, err := io.ReadFull(c.r, c.body[len(c.body)-int(n):])
	return eofIsUnexpected(err)
}

// readChunked reads a chunked body and its trailers.
func (c *benchConn) readChunked() error {
	for {
		line, err := c.readLine()
		if err != nil {
			return eofIsUnexpected(err)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // a chunk extension, which means nothing here
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 63)
		if err != nil {
			return errBenchChunk
		}
		if size == 0 {
			break
		}
		if int64(len(c.body))+int64(size) > maxBenchBody {
			return errBenchTooLarge
		}
		if err := c.readSized(int64(size)); err != nil {
			return err
		}
		if line, err := c.readLine(); err != nil || len(line) != 0 {
			return errors.Join(errBenchChunk, eofIsUnexpected(err))
		}
	}
	for { // trailers, up to the empty line
		line, err := c.readLine()
		if err != nil {
			return eofIsUnexpected(err)
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// readToEOF reads a body that ends where the connection does.
func (c *benchConn) readToEOF() error {
	for {
		if len(c.body) == cap(c.body) {
			c.body = append(c.body, 0)[:len(c.body)]
		}
		n, err := c.r.Read(c.body[len(c.body):cap(c.body)])
		c.body = c.body[:len(c.body)+n]
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(c.body) > maxBenchBody {
			return errBenchTooLarge
		}
	}
}

// grow extends b by n bytes, reusing its array when it has room.
func grow(b []byte, n int) []byte {
	if need := len(b) + n; need > cap(b) {
		nb := make([]byte, len(b), max(need, 2*cap(b)))
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// eofIsUnexpected is err, but an answer cut short is never a clean end.
func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseContentLength reads a Content-Length value: decimal digits only, as a JSON
// unsigned integer is (jsonUint).
func parseContentLength(v []byte) (int64, bool) {
	n, ok := jsonUint(v)
	return int64(n), ok
}

// headerIs compares a header's name or token with want, ignoring ASCII case.
func headerIs(b []byte, want string) bool {
	if len(b) != len(want) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], want[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
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
