package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// revealConn is one worker's own keep-alive connection for the reveal phase. The
// phase's operation is small (a 20-byte request, a ~100-byte answer), and on the
// benchmark's two cores net/http's client machinery (its connection goroutines and
// their hand-offs, the request's header map, the JSON encoder of the typed client) cost
// the bench about a fifth of what the server spent on each reveal, CPU taken from
// the server it measures. The request is written as bytes on the connection and the
// answer read with http.ReadResponse, which still parses the status, the headers and a
// chunked or sized body; the answer is checked as the typed client checks it: a 2xx
// whose body decodes into the reveal's wire type, else an error by status and problem
// code.
type revealConn struct {
	conn net.Conn
	r    *bufio.Reader
	req  bytes.Buffer
	body bytes.Buffer
}

// close drops the connection, if any.
func (rc *revealConn) close() {
	if rc.conn != nil {
		_ = rc.conn.Close()
		rc.conn, rc.r = nil, nil
	}
}

// reveal reveals secret id's value in env on the server at base (http://host:port),
// as token, on rc's connection (dialed when there is none).
func (rc *revealConn) reveal(ctx context.Context, base *url.URL, token, org, id, env string) (wire.Revealed, error) {
	path := client.APIPrefix + "/orgs/" + url.PathEscape(org) + "/secrets/" + url.PathEscape(id) + "/reveal"
	netErr := func(err error) error {
		rc.close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &client.NetworkError{Method: http.MethodPost, URL: base.String() + path, Err: err}
	}
	if rc.conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", base.Host)
		if err != nil {
			return wire.Revealed{}, netErr(err)
		}
		rc.conn, rc.r = c, bufio.NewReaderSize(c, 4096)
	}
	deadline, _ := ctx.Deadline() // zero, no deadline, without one
	if err := rc.conn.SetDeadline(deadline); err != nil {
		return wire.Revealed{}, netErr(err)
	}
	body := `{"env":` + strconv.Quote(env) + `}`
	rc.req.Reset()
	fmt.Fprintf(&rc.req, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nUser-Agent: keyledger-bench\r\n"+
		"Accept: application/json\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, base.Host, token, len(body), body)
	if _, err := rc.conn.Write(rc.req.Bytes()); err != nil {
		return wire.Revealed{}, netErr(err)
	}
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		return wire.Revealed{}, netErr(err)
	}
	var refused error
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		refused = client.ResponseError(resp)
	}
	// The rest of the body, all of it on success: the connection is reused.
	rc.body.Reset()
	_, err = rc.body.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return wire.Revealed{}, netErr(err)
	}
	if resp.Close {
		rc.close()
	}
	if refused != nil {
		return wire.Revealed{}, refused
	}
	var out wire.Revealed
	if err := json.Unmarshal(rc.body.Bytes(), &out); err != nil {
		return wire.Revealed{}, fmt.Errorf("keyledger bench: decode the response of POST %s: %w", path, err)
	}
	return out, nil
}

// errNoBaseURL is returned when the server's address does not parse.
var errNoBaseURL = errors.New("keyledger bench: the server's URL does not parse")

// parseBase parses the server's base URL for revealConn.
func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Scheme != "http" {
		return nil, errNoBaseURL
	}
	return u, nil
}
