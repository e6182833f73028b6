package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// APIPrefix is the path under which the server serves the API.
const APIPrefix = "/api/v1"

// DefaultUserAgent is sent when no WithUserAgent option is given.
const DefaultUserAgent = "keyledger-go-client"

// Client calls one Keyledger server. It is safe for concurrent use; its
// configuration does not change after New.
type Client struct {
	base      string
	token     string
	userAgent string
	http      *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithToken makes the client send Authorization: Bearer token on every request.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient replaces the HTTP client. Its Timeout, if any, bounds every call,
// including a Changes stream; prefer deadlines on the context.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithUserAgent sets the User-Agent header, which the server records in the audit
// trail beside each command.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client for the server at baseURL (such as http://127.0.0.1:8080; a
// trailing /api/v1 is accepted too).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("keyledger client: server URL %q must be http(s)://host[:port]", baseURL)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(u.String(), "/"), APIPrefix)
	c := &Client{base: strings.TrimSuffix(base, "/"), userAgent: DefaultUserAgent, http: defaultHTTPClient()}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// defaultHTTPClient has no overall timeout, which would cut a Changes stream short;
// dialing and waiting for response headers are bounded instead.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
}

// BaseURL is the server's URL without the API prefix.
func (c *Client) BaseURL() string { return c.base }

// CallOption adjusts one call.
type CallOption func(*callConfig)

type callConfig struct {
	idempotencyKey string
	minSeq         uint64
	seq            *uint64
}

// IdempotencyKey sends Idempotency-Key with a mutation: a retry with the same key by
// the same user returns the first result and changes nothing.
func IdempotencyKey(key string) CallOption {
	return func(cc *callConfig) { cc.idempotencyKey = key }
}

// MinSeq makes a read wait (bounded, on the server) until the read models reflect the
// given stream sequence, such as one a command returned through Seq.
func MinSeq(seq uint64) CallOption { return func(cc *callConfig) { cc.minSeq = seq } }

// Seq stores the X-Keyledger-Seq of the response (the stream sequence a command
// produced) in *dst; it stays unchanged when the response has none.
func Seq(dst *uint64) CallOption { return func(cc *callConfig) { cc.seq = dst } }

// request is one API call.
type request struct {
	method string
	path   string // under APIPrefix, already escaped
	query  url.Values
	body   any // JSON-encoded when not nil
	opts   []CallOption
	accept string
	// lastEventID resumes an event stream.
	lastEventID string
}

// send performs r and returns the response when its status is 2xx; any other status
// becomes a *Error, and a failure to talk to the server a *NetworkError. The caller
// closes the body.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	var cc callConfig
	for _, o := range r.opts {
		o(&cc)
	}
	req, err := c.newRequest(ctx, r, cc)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &NetworkError{Method: r.method, URL: c.base + APIPrefix + r.path, Err: unwrapURLError(err)}
	}
	if cc.seq != nil {
		if s, err := strconv.ParseUint(resp.Header.Get("X-Keyledger-Seq"), 10, 64); err == nil {
			*cc.seq = s
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// ErrNotText is returned, before anything is sent, for a request with a string that is
// not UTF-8 text (a secret's value, a description): JSON would carry each byte that is
// not UTF-8 as U+FFFD, and the server would store that instead of what was given.
var ErrNotText = errors.New("keyledger client: a value, name or description must be UTF-8 text (encode binary data, as base64 for one)")

// replacedBytes says whether json.Marshal replaced bytes that are not UTF-8 in b, its
// output: it writes each as the escape \ufffd, and a real U+FFFD as the character
// itself. An escape is a backslash after an even run of backslashes (an odd run ends
// in an escaped backslash followed by the letters "ufffd").
func replacedBytes(b []byte) bool {
	for i := bytes.Index(b, []byte(`\ufffd`)); i >= 0; {
		run := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			run++
		}
		if run%2 == 0 {
			return true
		}
		next := bytes.Index(b[i+1:], []byte(`\ufffd`))
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

func (c *Client) newRequest(ctx context.Context, r request, cc callConfig) (*http.Request, error) {
	q := r.query
	if cc.minSeq > 0 {
		if q == nil {
			q = url.Values{}
		}
		q.Set("min_seq", strconv.FormatUint(cc.minSeq, 10))
	}
	target := c.base + APIPrefix + r.path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("keyledger client: encode %s %s: %w", r.method, r.path, err)
		}
		if replacedBytes(b) {
			return nil, fmt.Errorf("%w: %s %s", ErrNotText, r.method, r.path)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("keyledger client: %w", err)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if r.lastEventID != "" {
		req.Header.Set("Last-Event-ID", r.lastEventID)
	}
	if cc.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", cc.idempotencyKey)
	}
	return req, nil
}

// do performs r and decodes a JSON response into out (when out is not nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("keyledger client: decode the response of %s %s: %w", r.method, r.path, err)
	}
	return nil
}

// seg escapes one path segment (an id or a name given by the caller).
func seg(s string) string { return url.PathEscape(s) }

// orgPath is /orgs/{org} followed by more segments, each escaped.
func orgPath(org string, more ...string) string {
	var b strings.Builder
	b.WriteString("/orgs/")
	b.WriteString(seg(org))
	for _, m := range more {
		b.WriteByte('/')
		b.WriteString(seg(m))
	}
	return b.String()
}

// formatTime renders a time as API.md's query parameters expect it.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
