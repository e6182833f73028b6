package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
)

func TestSignup(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	anon := env.Anonymous()

	var out struct {
		User apitest.User `json:"user"`
	}
	r := anon.Do(t, "POST", "/auth/signup", map[string]any{"email": " Alice@Example.com ", "password": apitest.Password, "name": "Alice"}).
		Expect(t, http.StatusCreated)
	r.JSON(t, &out)
	if out.User.ID == "" || out.User.Email != "alice@example.com" || out.User.Name != "Alice" || out.User.Superadmin {
		t.Fatalf("user %+v", out.User)
	}
	if r.Header.Get("X-Keyledger-Seq") == "" {
		t.Fatal("signup response has no X-Keyledger-Seq")
	}

	t.Run("email taken", func(t *testing.T) {
		anon.Do(t, "POST", "/auth/signup", map[string]any{"email": "alice@example.com", "password": apitest.Password, "name": "Other"}).
			Problem(t, http.StatusConflict, "email_taken")
	})
	t.Run("short password", func(t *testing.T) {
		p := anon.Do(t, "POST", "/auth/signup", map[string]any{"email": "bob@example.com", "password": "short", "name": "Bob"}).
			Problem(t, http.StatusUnprocessableEntity, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != "password" || p.Errors[0].Message == "" {
			t.Fatalf("errors %+v", p.Errors)
		}
	})
	t.Run("bad email", func(t *testing.T) {
		p := anon.Do(t, "POST", "/auth/signup", map[string]any{"email": "not an email", "password": apitest.Password, "name": "Bob"}).
			Problem(t, http.StatusUnprocessableEntity, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != "email" {
			t.Fatalf("errors %+v", p.Errors)
		}
	})
}

func TestSignupClosed(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.Signup = httpapi.SignupClosed })
	env.Anonymous().Do(t, "POST", "/auth/signup", map[string]any{"email": "a@example.com", "password": apitest.Password, "name": "A"}).
		Problem(t, http.StatusForbidden, "forbidden")
	// Users created by a super-admin still log in.
	admin := env.CreateUser(t, "root@example.com", "Root", true)
	var out struct {
		User apitest.User `json:"user"`
	}
	admin.Do(t, "POST", "/admin/users", map[string]any{"email": "carol@example.com", "password": apitest.Password, "name": "Carol"}).
		Expect(t, http.StatusCreated).JSON(t, &out)
	if out.User.Email != "carol@example.com" || out.User.Superadmin {
		t.Fatalf("created %+v", out.User)
	}
	carol := env.Anonymous()
	carol.Login(t, "carol@example.com", apitest.Password)
	carol.Do(t, "POST", "/admin/users", map[string]any{"email": "dave@example.com", "password": apitest.Password, "name": "Dave"}).
		Problem(t, http.StatusForbidden, "forbidden")
	admin.Do(t, "POST", "/admin/users", map[string]any{"email": "carol@example.com", "password": apitest.Password, "name": "Carol"}).
		Problem(t, http.StatusConflict, "email_taken")
	admin.Do(t, "POST", "/admin/users", map[string]any{"email": "eve@example.com", "password": apitest.Password, "name": "Eve", "superadmin": true}).
		Expect(t, http.StatusCreated).JSON(t, &out)
	if !out.User.Superadmin {
		t.Fatal("superadmin flag was not kept")
	}
}

func TestLoginSetsSessionCookiesAndToken(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.Secure = true })
	env.CreateUser(t, "alice@example.com", "Alice", false)
	anon := env.Anonymous()
	r := anon.Do(t, "POST", "/auth/login", map[string]any{"email": "ALICE@example.com", "password": apitest.Password}).Expect(t, http.StatusOK)
	var out struct {
		User  apitest.User `json:"user"`
		Token string       `json:"token"`
	}
	r.JSON(t, &out)
	if out.Token == "" || out.User.Email != "alice@example.com" {
		t.Fatalf("login %s", r.Body)
	}
	cookies := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		cookies[c.Name] = c
	}
	session, csrf := cookies["keyledger_session"], cookies["keyledger_csrf"]
	if session == nil || csrf == nil {
		t.Fatalf("cookies %v", r.Header.Values("Set-Cookie"))
	}
	if !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteStrictMode || session.Value != out.Token {
		t.Fatalf("session cookie %+v", session)
	}
	if csrf.HttpOnly || !csrf.Secure || csrf.SameSite != http.SameSiteStrictMode || csrf.Value == "" {
		t.Fatalf("csrf cookie %+v", csrf)
	}
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS under TLS")
	}

	bearer := env.Anonymous()
	bearer.Token = out.Token
	var me struct {
		User        apitest.User `json:"user"`
		Memberships []any        `json:"memberships"`
	}
	bearer.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK).JSON(t, &me)
	if me.User.ID != out.User.ID || me.User.Email != "alice@example.com" || me.User.Name != "Alice" || me.Memberships == nil {
		t.Fatalf("me %+v", me)
	}

	t.Run("wrong password and unknown user are alike", func(t *testing.T) {
		p1 := anon.Do(t, "POST", "/auth/login", map[string]any{"email": "alice@example.com", "password": "wrong password!"}).
			Problem(t, http.StatusUnauthorized, "unauthenticated")
		p2 := anon.Do(t, "POST", "/auth/login", map[string]any{"email": "nobody@example.com", "password": "wrong password!"}).
			Problem(t, http.StatusUnauthorized, "unauthenticated")
		if p1.Detail != p2.Detail {
			t.Fatalf("details differ: %q vs %q", p1.Detail, p2.Detail)
		}
	})
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	anon := env.Anonymous()
	for _, path := range []string{"/me", "/orgs", "/orgs/00000000-0000-0000-0000-000000000000/secrets"} {
		anon.Do(t, "GET", path, nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	}
	anon.Token = "kl_sess_not-a-real-session"
	anon.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	anon.Token = ""
	anon.Do(t, "GET", "/me", nil, "Authorization", "Basic YWxpY2U6cGFzcw==").Problem(t, http.StatusUnauthorized, "unauthenticated")
	anon.Do(t, "GET", "/me", nil, "Authorization", "Bearer kl_st_00000000000000000000000000000000abc").Problem(t, http.StatusUnauthorized, "unauthenticated")
}

func TestLogoutKillsTheSession(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	token := alice.Token
	alice.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK)
	alice.Do(t, "POST", "/auth/logout", nil).Expect(t, http.StatusNoContent)
	alice.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	// The cookie of the same session is dead too.
	stale := env.Anonymous()
	stale.CookieAuth = true
	stale.Do(t, "GET", "/me", nil, "Cookie", "keyledger_session="+token).Problem(t, http.StatusUnauthorized, "unauthenticated")

	// A cookie session logs out with CSRF and loses its cookies.
	browser := env.Anonymous()
	browser.Login(t, "alice@example.com", apitest.Password)
	cookie := browser.WithCookies(true)
	cookie.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK)
	cookie.Do(t, "POST", "/auth/logout", nil).Expect(t, http.StatusNoContent)
	if v := cookie.Cookie("keyledger_session"); v != "" {
		t.Fatalf("session cookie still set: %q", v)
	}
	bearer := env.Anonymous()
	bearer.Token = browser.Token
	bearer.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	// Logging out again, or with no session at all, still answers 204.
	bearer.Do(t, "POST", "/auth/logout", nil).Expect(t, http.StatusNoContent)
	env.Anonymous().Do(t, "POST", "/auth/logout", nil).Expect(t, http.StatusNoContent)
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")

	noCSRF := alice.WithCookies(false)
	// Reads need no CSRF token.
	noCSRF.Do(t, "GET", "/orgs/"+org.ID+"/secrets", nil).Expect(t, http.StatusOK)
	for _, tc := range []struct{ method, path string }{
		{"POST", "/orgs/" + org.ID + "/secrets"},
		{"PATCH", "/orgs/" + org.ID},
		{"DELETE", "/orgs/" + org.ID + "/members/" + alice.UserID},
		{"POST", "/auth/logout"},
	} {
		noCSRF.Do(t, tc.method, tc.path, map[string]any{"name": "X"}).Problem(t, http.StatusForbidden, "csrf")
	}
	noCSRF.Do(t, "POST", "/orgs/"+org.ID+"/secrets", map[string]any{"name": "X"}, "X-CSRF-Token", "forged").
		Problem(t, http.StatusForbidden, "csrf")

	alice.WithCookies(true).Do(t, "POST", "/orgs/"+org.ID+"/secrets", map[string]any{"name": "FROM_COOKIE"}).Expect(t, http.StatusCreated)
	// A bearer client needs none.
	alice.Do(t, "POST", "/orgs/"+org.ID+"/secrets", map[string]any{"name": "FROM_BEARER"}).Expect(t, http.StatusCreated)
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	env := apitest.New(t, func(c *httpapi.Config) { c.LoginFailures, c.LoginWindow, c.Now = 3, time.Minute, clock })
	env.CreateUser(t, "alice@example.com", "Alice", false)
	anon := env.Anonymous()
	for range 3 {
		anon.Do(t, "POST", "/auth/login", map[string]any{"email": "alice@example.com", "password": "wrong password!"}).
			Problem(t, http.StatusUnauthorized, "unauthenticated")
	}
	r := anon.Do(t, "POST", "/auth/login", map[string]any{"email": "alice@example.com", "password": apitest.Password})
	r.Problem(t, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Another account from the same address is not locked out by these failures.
	env.CreateUser(t, "bob@example.com", "Bob", false)
}

// Wrong passwords sent at once are held to the limit like ones sent one by one: each
// attempt counted only once it had failed, so every guess sent together was checked
// (20 at once against a limit of 5: 9 to 20 answered 401).
func TestLoginRateLimitHoldsForGuessesSentAtOnce(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.LoginFailures, c.LoginWindow = 3, time.Minute })
	env.CreateUser(t, "alice@example.com", "Alice", false)
	anon := env.Anonymous()
	statuses := make(chan int, 20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			r := anon.Do(t, "POST", "/auth/login", map[string]any{"email": "alice@example.com", "password": "wrong password!"})
			statuses <- r.Status
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for st := range statuses {
		counts[st]++
	}
	if counts[http.StatusUnauthorized] > 3 || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 20 {
		t.Fatalf("20 wrong passwords at once against a limit of 3: %v", counts)
	}
}

func TestPersonalAccessTokens(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	var issued struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "ci"}).Expect(t, http.StatusCreated).JSON(t, &issued)
	expiring := alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "short", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	expiring.Expect(t, http.StatusCreated)
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "bad", "expires_at": "tomorrow"}).Problem(t, http.StatusBadRequest, "invalid_request")
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "past", "expires_at": "2001-01-01T00:00:00Z"}).
		Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	if !strings.HasPrefix(issued.Token, "kl_pat_") {
		t.Fatalf("token %q", issued.Token)
	}
	pat := env.Anonymous()
	pat.Token = issued.Token
	var me struct {
		User apitest.User `json:"user"`
	}
	pat.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK).JSON(t, &me)
	if me.User.ID != alice.UserID {
		t.Fatalf("pat speaks for %q", me.User.ID)
	}
	var list struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	alice.Do(t, "GET", "/auth/tokens", nil).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 2 || (list.Items[0].ID != issued.ID && list.Items[1].ID != issued.ID) || strings.Contains(string(alice.Do(t, "GET", "/auth/tokens", nil).Body), issued.Token) {
		t.Fatalf("list %+v", list)
	}
	alice.Do(t, "DELETE", "/auth/tokens/"+issued.ID, nil).Expect(t, http.StatusNoContent)
	pat.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
}
