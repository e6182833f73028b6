package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/keyledger/keyledger/projections/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// server is a running API and an anonymous client for it.
type server struct {
	env  *apitest.Env
	anon *client.Client
}

func newServer(tb testing.TB) server {
	tb.Helper()
	env := apitest.New(tb)
	return server{env: env, anon: mustClient(tb, env.BaseURL)}
}

func mustClient(tb testing.TB, base string, opts ...client.Option) *client.Client {
	tb.Helper()
	c, err := client.New(base, append([]client.Option{client.WithUserAgent("client-test")}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// signUp registers a user through the client, logs in, and returns a client that
// acts as the user.
func (s server) signUp(tb testing.TB, email, name string) (*client.Client, client.User) {
	tb.Helper()
	ctx := testContext(tb)
	if _, err := s.anon.Signup(ctx, client.SignupRequest{Email: email, Password: apitest.Password, Name: name}); err != nil {
		tb.Fatalf("signup %s: %v", email, err)
	}
	res, err := s.anon.Login(ctx, email, apitest.Password)
	if err != nil {
		tb.Fatalf("login %s: %v", email, err)
	}
	return mustClient(tb, s.env.BaseURL, client.WithToken(res.Token)), res.User
}

// wantProblem fails unless err is a *client.Error with status and code, and a
// non-empty title and detail.
func wantProblem(tb testing.TB, err error, status int, code string) *client.Error {
	tb.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T), want a *client.Error %d %s", err, err, status, code)
	}
	if e.Status != status || e.Code != code || e.Title == "" || e.Detail == "" {
		tb.Fatalf("got %+v, want %d %s with a title and detail", e, status, code)
	}
	if !client.IsCode(err, code) || e.Error() != e.Detail {
		tb.Fatalf("IsCode or Error() disagree with %+v", e)
	}
	return e
}

func TestNewRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://"} {
		if _, err := client.New(u); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
	c, err := client.New("https://keyledger.example/api/v1/")
	if err != nil || c.BaseURL() != "https://keyledger.example" {
		t.Fatalf("New with /api/v1: %v, base %q", err, c.BaseURL())
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)

	u, err := s.anon.Signup(ctx, client.SignupRequest{Email: "Alice@Example.com", Password: apitest.Password, Name: "Alice"})
	if err != nil || u.ID == "" || u.Email != "alice@example.com" || u.Name != "Alice" {
		t.Fatalf("signup: %+v, %v", u, err)
	}
	_, err = s.anon.Signup(ctx, client.SignupRequest{Email: "alice@example.com", Password: apitest.Password, Name: "Again"})
	wantProblem(t, err, http.StatusConflict, client.CodeEmailTaken)
	_, err = s.anon.Signup(ctx, client.SignupRequest{Email: "short@example.com", Password: "short", Name: "S"})
	e := wantProblem(t, err, http.StatusUnprocessableEntity, client.CodeValidationFailed)
	if len(e.Errors) == 0 || e.Errors[0].Field != "password" {
		t.Errorf("validation errors %+v, want one on password", e.Errors)
	}

	_, err = s.anon.Login(ctx, "alice@example.com", "wrong password!")
	wantProblem(t, err, http.StatusUnauthorized, client.CodeUnauthenticated)
	res, err := s.anon.Login(ctx, "alice@example.com", apitest.Password)
	if err != nil || res.Token == "" || res.User.ID != u.ID {
		t.Fatalf("login: %+v, %v", res, err)
	}
	alice := mustClient(t, s.env.BaseURL, client.WithToken(res.Token))
	me, err := alice.Me(ctx)
	if err != nil || me.User.ID != u.ID || me.User.Superadmin || len(me.Memberships) != 0 {
		t.Fatalf("me: %+v, %v", me, err)
	}
	_, err = s.anon.Me(ctx)
	wantProblem(t, err, http.StatusUnauthorized, client.CodeUnauthenticated)

	if err := alice.Logout(ctx); err != nil {
		t.Fatalf("logout: %v", err)
	}
	_, err = alice.Me(ctx)
	wantProblem(t, err, http.StatusUnauthorized, client.CodeUnauthenticated)
}

func TestPersonalTokens(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, user := s.signUp(t, "alice@example.com", "Alice")

	issued, err := alice.CreatePersonalToken(ctx, client.CreatePersonalTokenRequest{Name: "laptop"})
	if err != nil || issued.ID == "" || !strings.HasPrefix(issued.Token, "kl_pat_") {
		t.Fatalf("create token: %+v, %v", issued, err)
	}
	pat := mustClient(t, s.env.BaseURL, client.WithToken(issued.Token))
	me, err := pat.Me(ctx)
	if err != nil || me.User.ID != user.ID {
		t.Fatalf("me with the token: %+v, %v", me, err)
	}
	list, err := alice.ListPersonalTokens(ctx)
	if err != nil || len(list) != 1 || list[0].ID != issued.ID || list[0].Name != "laptop" ||
		list[0].ExpiresAt != nil || list[0].CreatedAt.IsZero() {
		t.Fatalf("list tokens: %+v, %v", list, err)
	}
	if err := pat.RevokePersonalToken(ctx, issued.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	_, err = pat.Me(ctx)
	e := wantProblem(t, err, http.StatusUnauthorized, client.CodeUnauthenticated)
	if e.Detail != "The token is invalid, expired or revoked." {
		t.Errorf("detail %q", e.Detail)
	}
}

func TestPersonalTokenExpiry(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, _ := s.signUp(t, "alice@example.com", "Alice")
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	issued, err := alice.CreatePersonalToken(ctx, client.CreatePersonalTokenRequest{Name: "ci", ExpiresAt: &expires})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	list, err := alice.ListPersonalTokens(ctx)
	if err != nil || len(list) != 1 || list[0].ID != issued.ID || list[0].ExpiresAt == nil || !list[0].ExpiresAt.Equal(expires) {
		t.Fatalf("list tokens: %+v, %v", list, err)
	}
}

func TestSuperadminCreatesUsers(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	root := mustClient(t, s.env.BaseURL, client.WithToken(s.env.CreateUser(t, "root@example.com", "Root", true).Token))
	u, err := root.CreateUser(ctx, client.SignupRequest{Email: "ops@example.com", Password: apitest.Password, Name: "Ops", Superadmin: true})
	if err != nil || !u.Superadmin || u.Email != "ops@example.com" {
		t.Fatalf("create user: %+v, %v", u, err)
	}
	ops, _ := s.signUp(t, "plain@example.com", "Plain")
	_, err = ops.CreateUser(ctx, client.SignupRequest{Email: "x@example.com", Password: apitest.Password, Name: "X"})
	wantProblem(t, err, http.StatusForbidden, client.CodeForbidden)
	if _, err := s.anon.Login(ctx, "ops@example.com", apitest.Password); err != nil {
		t.Fatalf("the new user cannot log in: %v", err)
	}
}

func TestOrganizationsAndMembers(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := testContext(t)
	alice, _ := s.signUp(t, "alice@example.com", "Alice")
	bob, bobUser := s.signUp(t, "bob@example.com", "Bob")

	org, err := alice.CreateOrg(ctx, "Acme")
	if err != nil || org.ID == "" || org.Name != "Acme" || org.Role == nil || *org.Role != client.RoleOwner ||
		org.RevealPolicy != client.RevealAllowed || org.CreatedAt.IsZero() {
		t.Fatalf("create org: %+v, %v", org, err)
	}
	orgs, err := alice.ListOrgs(ctx)
	if err != nil || len(orgs) != 1 || orgs[0].ID != org.ID {
		t.Fatalf("list orgs: %+v, %v", orgs, err)
	}
	_, err = bob.GetOrg(ctx, org.ID)
	wantProblem(t, err, http.StatusNotFound, client.CodeNotFound)

	name, policy := "Acme Inc", client.RevealDisabled
	updated, err := alice.UpdateOrg(ctx, org.ID, client.UpdateOrgRequest{Name: &name, RevealPolicy: &policy})
	if err != nil || updated.Name != name || updated.RevealPolicy != policy {
		t.Fatalf("update org: %+v, %v", updated, err)
	}
	got, err := alice.GetOrg(ctx, org.ID)
	if err != nil || got.Name != name {
		t.Fatalf("get org: %+v, %v", got, err)
	}
	envs, err := alice.ListEnvironments(ctx, org.ID)
	if err != nil || len(envs) != 3 || envs[0].Slug != client.Development || envs[2].Name != "Production" {
		t.Fatalf("environments: %+v, %v", envs, err)
	}

	_, err = alice.AddMember(ctx, org.ID, "nobody@example.com", client.RoleViewer)
	e := wantProblem(t, err, http.StatusUnprocessableEntity, client.CodeValidationFailed)
	if len(e.Errors) != 1 || e.Errors[0].Field != "email" {
		t.Errorf("field errors %+v, want email", e.Errors)
	}
	m, err := alice.AddMember(ctx, org.ID, "bob@example.com", client.RoleViewer)
	if err != nil || m.UserID != bobUser.ID || m.Role != client.RoleViewer || m.AddedAt.IsZero() {
		t.Fatalf("add member: %+v, %v", m, err)
	}
	_, err = bob.ListMembers(ctx, org.ID)
	wantProblem(t, err, http.StatusForbidden, client.CodeForbidden)
	m, err = alice.ChangeMemberRole(ctx, org.ID, bobUser.ID, client.RoleOwner)
	if err != nil || m.Role != client.RoleOwner {
		t.Fatalf("change role: %+v, %v", m, err)
	}
	members, err := bob.ListMembers(ctx, org.ID)
	if err != nil || len(members) != 2 {
		t.Fatalf("members: %+v, %v", members, err)
	}
	if err := bob.RemoveMember(ctx, org.ID, bobUser.ID); err != nil {
		t.Fatalf("bob leaves: %v", err)
	}
	me, err := alice.Me(ctx)
	if err != nil || len(me.Memberships) != 1 {
		t.Fatalf("me: %+v, %v", me, err)
	}
	_, err = alice.ChangeMemberRole(ctx, org.ID, me.User.ID, client.RoleAdmin)
	wantProblem(t, err, http.StatusConflict, client.CodeLastOwner)
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := mustClient(t, "http://"+addr, client.WithToken("kl_pat_x"))
	_, err = c.Me(testContext(t))
	var ne *client.NetworkError
	if !errors.As(err, &ne) || !client.IsUnavailable(err) {
		t.Fatalf("error %v (%T), want an unavailable *NetworkError", err, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Me(ctx); !errors.Is(err, context.Canceled) || client.IsUnavailable(err) {
		t.Fatalf("cancelled call: %v", err)
	}
	if client.IsUnavailable(&client.Error{Status: 401}) || !client.IsUnavailable(&client.Error{Status: 503}) {
		t.Fatal("IsUnavailable misjudges statuses")
	}
}
