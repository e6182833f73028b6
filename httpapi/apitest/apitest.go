// Package apitest runs the whole Keyledger API for tests: embedded NATS with the event
// store, a fresh PostgreSQL database with the read models, and the server wired by
// cmd/keyledger/app as serve wires it (projector, keyring watch, metrics, change feed,
// buckets) with the Fiber app on a real loopback listener. Clients sign up, log in and call it over
// HTTP like any other client.
//
// A package that uses it calls pgtest.Main(m) from its TestMain. It is for tests only.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/cmd/keyledger/app"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/webhooks"
	"github.com/keyledger/keyledger/projections"
	"github.com/keyledger/keyledger/projections/pgtest"
)

// Password is the password of every user the helpers create.
const Password = "correct horse battery staple"

// Env is one running API with everything behind it.
type Env struct {
	NATS     *eventstoretest.Env
	DB       *projections.ReadModels
	Commands *commands.Handlers
	Server   *httpapi.Server
	// BaseURL is http://127.0.0.1:PORT.
	BaseURL string
	// DatabaseURL is the read models' database, for tests that break it on purpose.
	DatabaseURL string

	app *app.App
}

// New starts an API with open sign-up, wired by app.Start as serve wires it, on
// embedded NATS and a fresh database: one process, so the projector runs without a
// lease, and no webhook engine (StartWebhooks runs one). configure, when given,
// adjusts the server's Config before it is built; what it leaves unset the app fills in.
func New(tb testing.TB, configure ...func(*httpapi.Config)) *Env {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nats := eventstoretest.New(tb)
	dbURL := pgtest.NewDatabase(tb)
	db, err := projections.Open(ctx, dbURL, nats.Store.Keyring(), nil)
	if err != nil {
		tb.Fatalf("apitest: open read models: %v", err)
	}
	tb.Cleanup(db.Close)
	names, err := reservation.Open(ctx, nats.Store)
	if err != nil {
		tb.Fatalf("apitest: reservations: %v", err)
	}
	env := &Env{NATS: nats, DB: db, Commands: commands.New(nats.Store, names, time.Now), DatabaseURL: dbURL}

	// The read model is the one the app would fill in, set here so that configure
	// can wrap a part of it (a read that fails on purpose).
	cfg := httpapi.Config{Signup: httpapi.SignupOpen, WaitTimeout: 10 * time.Second, ReadModel: httpapi.ReadModelOf(db)}
	for _, f := range configure {
		f(&cfg)
	}
	a, err := app.Start(ctx, app.Config{Store: nats.Store, DB: db, Commands: env.Commands, HTTP: cfg, Addr: "127.0.0.1:0"})
	if err != nil {
		tb.Fatalf("apitest: start: %v", err)
	}
	tb.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Close(sctx)
	})
	env.app, env.Server = a, a.Server
	env.BaseURL = "http://" + a.Addr()
	return env
}

// StopProjector stops the read models where they are, as a projector that lags or a
// read side that is down would: commands are still recorded in the log.
func (e *Env) StopProjector() { e.app.StopProjector() }

// StartProjector starts a projector again after StopProjector; it resumes from the
// read models' checkpoint.
func (e *Env) StartProjector(tb testing.TB) {
	tb.Helper()
	e.app.StartProjector()
}

// Client is one caller. With Token set it authenticates with Authorization: Bearer;
// with CookieAuth it sends the session cookie instead (and CSRF when SendCSRF).
type Client struct {
	env        *Env
	http       *http.Client
	UserID     string
	Email      string
	Name       string
	Token      string
	CookieAuth bool
	SendCSRF   bool
	// Header is added to every request.
	Header http.Header
}

// Anonymous is a client with no credentials (and its own cookie jar).
func (e *Env) Anonymous() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{env: e, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, Header: http.Header{}}
}

// SignUp signs a user up through the API and logs it in; the client uses the bearer
// token.
func (e *Env) SignUp(tb testing.TB, email, name string) *Client {
	tb.Helper()
	c := e.Anonymous()
	c.Do(tb, "POST", "/auth/signup", map[string]any{"email": email, "password": Password, "name": name}).Expect(tb, http.StatusCreated)
	c.Login(tb, email, Password)
	return c
}

// CreateUser registers a user with the commands (so it works with sign-up closed, and
// can make super-admins) and logs it in through the API.
func (e *Env) CreateUser(tb testing.TB, email, name string, superadmin bool) *Client {
	tb.Helper()
	res, err := e.Commands.RegisterUser.Handle(context.Background(), commands.Meta{}, commands.RegisterUser{
		Email: email, Name: name, Password: domain.NewPlaintext(Password), Superadmin: superadmin,
	})
	if err != nil {
		tb.Fatalf("apitest: register %s: %v", email, err)
	}
	e.Wait(tb, res.Seq)
	c := e.Anonymous()
	c.Login(tb, email, Password)
	return c
}

// Wait waits until the read models reflect seq.
func (e *Env) Wait(tb testing.TB, seq uint64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.DB.Progress.WaitFor(ctx, seq); err != nil {
		tb.Fatalf("apitest: wait for %d: %v", seq, err)
	}
}

// User is the user object of the API.
type User struct {
	ID         string `json:"id"`
	Email      string `json:"email"`
	Name       string `json:"name"`
	Superadmin bool   `json:"superadmin"`
}

// Login logs in and keeps the bearer token; the cookies land in the client's jar.
func (c *Client) Login(tb testing.TB, email, password string) {
	tb.Helper()
	var out struct {
		User  User   `json:"user"`
		Token string `json:"token"`
	}
	c.Do(tb, "POST", "/auth/login", map[string]any{"email": email, "password": password}).Expect(tb, http.StatusOK).JSON(tb, &out)
	c.UserID, c.Email, c.Name, c.Token = out.User.ID, out.User.Email, out.User.Name, out.Token
}

// Cookie returns the value of a cookie in the client's jar.
func (c *Client) Cookie(name string) string {
	u, _ := url.Parse(c.env.BaseURL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// WithCookies returns a copy of the client that authenticates with its session cookie
// (sharing the jar) and sends the CSRF header when sendCSRF.
func (c *Client) WithCookies(sendCSRF bool) *Client {
	cp := *c
	cp.Token, cp.CookieAuth, cp.SendCSRF = "", true, sendCSRF
	cp.Header = c.Header.Clone()
	return &cp
}

// Response is what came back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do calls the API at path under /api/v1. body is JSON-encoded unless it is a string
// or []byte, which are sent as they are. headers are name, value pairs.
func (c *Client) Do(tb testing.TB, method, path string, body any, headers ...string) *Response {
	tb.Helper()
	return c.DoURL(tb, method, "/api/v1"+path, body, headers...)
}

// DoURL calls any path of the server.
func (c *Client) DoURL(tb testing.TB, method, path string, body any, headers ...string) *Response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			tb.Fatalf("apitest: encode body: %v", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.env.BaseURL+path, rd)
	if err != nil {
		tb.Fatalf("apitest: request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.CookieAuth && c.SendCSRF {
		req.Header.Set("X-CSRF-Token", c.Cookie("keyledger_csrf"))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := c.http
	if !c.CookieAuth && c.Token != "" {
		// A bearer client sends no cookies, so that tests see bearer behaviour alone.
		client = &http.Client{Timeout: c.http.Timeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("apitest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("apitest: read %s %s: %v", method, path, err)
	}
	if c.http.Jar != nil && client != c.http {
		c.http.Jar.SetCookies(req.URL, resp.Cookies())
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Expect fails the test unless the status is want.
func (r *Response) Expect(tb testing.TB, want int) *Response {
	tb.Helper()
	if r.Status != want {
		tb.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// Seq is the stream sequence a command's answer names (X-Keyledger-Seq); the test
// fails when there is none.
func (r *Response) Seq(tb testing.TB) uint64 {
	tb.Helper()
	seq, err := strconv.ParseUint(r.Header.Get("X-Keyledger-Seq"), 10, 64)
	if err != nil || seq == 0 {
		tb.Fatalf("X-Keyledger-Seq %q; status %d, body: %s", r.Header.Get("X-Keyledger-Seq"), r.Status, r.Body)
	}
	return seq
}

// JSON decodes the body into v.
func (r *Response) JSON(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Problem is a problem+json body.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Problem checks that the response is a well-formed problem with the given status and
// code, and returns it.
func (r *Response) Problem(tb testing.TB, status int, code string) Problem {
	tb.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		tb.Fatalf("Content-Type %q, want application/problem+json; status %d, body %s", ct, r.Status, r.Body)
	}
	var p Problem
	r.JSON(tb, &p)
	if r.Status != status || p.Status != status || p.Code != code {
		tb.Fatalf("got %d %q (body status %d), want %d %q; body %s", r.Status, p.Code, p.Status, status, code, r.Body)
	}
	if p.Type == "" || p.Title == "" || p.Detail == "" {
		tb.Fatalf("problem with an empty type, title or detail: %s", r.Body)
	}
	return p
}

// Org is the organization object of the API.
type Org struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Role         *string `json:"role"`
	RevealPolicy string  `json:"reveal_policy"`
	CreatedAt    string  `json:"created_at"`
}

// CreateOrg creates an organization owned by the client.
func (c *Client) CreateOrg(tb testing.TB, name string) Org {
	tb.Helper()
	var o Org
	c.Do(tb, "POST", "/orgs", map[string]any{"name": name}).Expect(tb, http.StatusCreated).JSON(tb, &o)
	return o
}

// AddMember adds the user with email to org with role.
func (c *Client) AddMember(tb testing.TB, orgID, email, role string) {
	tb.Helper()
	c.Do(tb, "POST", "/orgs/"+orgID+"/members", map[string]any{"email": email, "role": role}).Expect(tb, http.StatusCreated)
}

// EnvState is one environment of a secret row.
type EnvState struct {
	Set       bool   `json:"set"`
	Version   int    `json:"version"`
	Mask      string `json:"mask"`
	UpdatedAt string `json:"updated_at"`
}

// Secret is a secret row of the API.
type Secret struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Owner       struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"owner"`
	CreatedAt    string              `json:"created_at"`
	UpdatedAt    string              `json:"updated_at"`
	Version      int                 `json:"version"`
	Environments map[string]EnvState `json:"environments"`
	Permissions  struct {
		Reveal bool `json:"reveal"`
		Modify bool `json:"modify"`
		Delete bool `json:"delete"`
	} `json:"permissions"`
}

// CreateSecret creates a secret in org with the given values (env → value).
func (c *Client) CreateSecret(tb testing.TB, orgID, name string, values map[string]string) Secret {
	tb.Helper()
	body := map[string]any{"name": name}
	if values != nil {
		body["values"] = values
	}
	var s Secret
	c.Do(tb, "POST", "/orgs/"+orgID+"/secrets", body).Expect(tb, http.StatusCreated).JSON(tb, &s)
	return s
}

// String names the client in test output.
func (c *Client) String() string { return fmt.Sprintf("client(%s)", c.Email) }

// StartWebhooks runs a webhook delivery engine beside the API, as serve does, with
// private addresses allowed (receivers in tests are on loopback) and short retries
// (50 ms doubling to 200 ms) for retryFor (0: the default day), reporting to metrics
// when given. It stops with the test.
func (e *Env) StartWebhooks(tb testing.TB, retryFor time.Duration, metrics ...*httpapi.WebhookMetrics) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := webhooks.OpenStore(ctx, e.NATS.Store, retryFor)
	if err != nil {
		tb.Fatalf("apitest: webhook store: %v", err)
	}
	cfg := webhooks.Config{
		Feed: e.app.Changes, Log: e.NATS.Store, Roster: e.DB.Webhooks, Store: store, Guard: webhooks.Guard{AllowPrivate: true},
		Timeout: 5 * time.Second, RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Tick: 20 * time.Millisecond, RosterEvery: 50 * time.Millisecond,
	}
	if len(metrics) > 0 && metrics[0] != nil {
		cfg.Metrics = metrics[0]
	}
	stop, err := app.RunWebhooks(cfg, nil)
	if err != nil {
		tb.Fatalf("apitest: webhook engine: %v", err)
	}
	tb.Cleanup(stop)
}
