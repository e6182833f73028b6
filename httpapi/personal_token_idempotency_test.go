package httpapi_test

import (
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

// personalTokenIDs lists a user's personal access tokens (GET /auth/tokens) by id.
func personalTokenIDs(t *testing.T, c *apitest.Client) []string {
	t.Helper()
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	c.Do(t, "GET", "/auth/tokens", nil).Expect(t, http.StatusOK).JSON(t, &list)
	ids := make([]string, 0, len(list.Items))
	for _, it := range list.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

// withoutToken is an answer's JSON object without its "token" field, and whether it
// had one.
func withoutToken(t *testing.T, r *apitest.Response) (map[string]any, bool) {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	_, had := m["token"]
	delete(m, "token")
	return m, had
}

func TestPersonalTokenIdempotencyKey(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	body := map[string]any{"name": "laptop"}

	first := alice.Do(t, "POST", "/auth/tokens", body, "Idempotency-Key", "pat-1").Expect(t, http.StatusCreated)
	var issued struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	first.JSON(t, &issued)
	if !strings.HasPrefix(issued.Token, "kl_pat_") {
		t.Fatalf("first answer has no token: %s", first.Body)
	}
	// The token issued under a key works.
	pat := env.Anonymous()
	pat.Token = issued.Token
	pat.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK)

	// The same key and body: the first result, marked as a replay, without the token.
	second := alice.Do(t, "POST", "/auth/tokens", body, "Idempotency-Key", "pat-1").Expect(t, http.StatusCreated)
	firstOut, _ := withoutToken(t, first)
	secondOut, hadToken := withoutToken(t, second)
	if hadToken || strings.Contains(string(second.Body), "kl_pat_") || !reflect.DeepEqual(firstOut, secondOut) {
		t.Fatalf("replay %s, first %s", second.Body, first.Body)
	}
	if second.Header.Get("Idempotent-Replayed") != "true" || second.Header.Get("X-Keyledger-Seq") != first.Header.Get("X-Keyledger-Seq") {
		t.Fatalf("replay headers %v, first %v", second.Header, first.Header)
	}
	if ids := personalTokenIDs(t, alice); len(ids) != 1 || ids[0] != issued.ID {
		t.Fatalf("tokens after a replay %v, want only %s", ids, issued.ID)
	}

	// The same key with another body is refused, and creates nothing.
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "desktop"}, "Idempotency-Key", "pat-1").
		Problem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	if ids := personalTokenIDs(t, alice); len(ids) != 1 {
		t.Fatalf("tokens after a reused key %v, want one", ids)
	}

	// After a crash that lost the idempotency store, the log answers the same way.
	forgetIdempotencyStore(t, env)
	third := alice.Do(t, "POST", "/auth/tokens", body, "Idempotency-Key", "pat-1").Expect(t, http.StatusCreated)
	thirdOut, hadToken := withoutToken(t, third)
	if hadToken || !reflect.DeepEqual(firstOut, thirdOut) || third.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay from the log %s, first %s", third.Body, first.Body)
	}
	forgetIdempotencyStore(t, env)
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "desktop"}, "Idempotency-Key", "pat-1").
		Problem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	if ids := personalTokenIDs(t, alice); len(ids) != 1 {
		t.Fatalf("tokens after retries from the log %v, want one", ids)
	}

	// Keys are per user: another user's same key and body is their own token.
	bob := env.SignUp(t, "bob@example.com", "Bob")
	var bobs struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	bobFirst := bob.Do(t, "POST", "/auth/tokens", body, "Idempotency-Key", "pat-1").Expect(t, http.StatusCreated)
	bobFirst.JSON(t, &bobs)
	if bobFirst.Header.Get("Idempotent-Replayed") != "" || bobs.ID == issued.ID || !strings.HasPrefix(bobs.Token, "kl_pat_") {
		t.Fatalf("bob's answer %s (alice's id %s)", bobFirst.Body, issued.ID)
	}
	bobPat := env.Anonymous()
	bobPat.Token = bobs.Token
	var me struct {
		User apitest.User `json:"user"`
	}
	bobPat.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK).JSON(t, &me)
	if me.User.ID != bob.UserID {
		t.Fatalf("bob's token speaks for %q", me.User.ID)
	}
	if ids := personalTokenIDs(t, bob); len(ids) != 1 || ids[0] != bobs.ID {
		t.Fatalf("bob's tokens %v, want only %s", ids, bobs.ID)
	}
	if ids := personalTokenIDs(t, alice); len(ids) != 1 || ids[0] != issued.ID {
		t.Fatalf("alice's tokens %v, want only %s", ids, issued.ID)
	}

	// Concurrent retries of one request make one token.
	var wg sync.WaitGroup
	answers := make([]*apitest.Response, 4)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "ci"}, "Idempotency-Key", "pat-race")
		}()
	}
	wg.Wait()
	minted := 0
	for _, a := range answers {
		if a.Status != http.StatusCreated {
			t.Fatalf("concurrent retry answered %d %s", a.Status, a.Body)
		}
		if strings.Contains(string(a.Body), "kl_pat_") {
			minted++
		}
	}
	if ids := personalTokenIDs(t, alice); len(ids) != 2 || minted != 1 {
		t.Fatalf("concurrent retries: tokens %v, %d answers with a token; want 2 tokens, 1 answer", ids, minted)
	}
}

func TestPersonalTokenRevocationIdempotencyKey(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	var a, b struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "a"}).Expect(t, http.StatusCreated).JSON(t, &a)
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "b"}).Expect(t, http.StatusCreated).JSON(t, &b)

	first := alice.Do(t, "DELETE", "/auth/tokens/"+a.ID, nil, "Idempotency-Key", "rev-1").Expect(t, http.StatusNoContent)
	again := alice.Do(t, "DELETE", "/auth/tokens/"+a.ID, nil, "Idempotency-Key", "rev-1").Expect(t, http.StatusNoContent)
	if again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("X-Keyledger-Seq") != first.Header.Get("X-Keyledger-Seq") {
		t.Fatalf("revocation replay headers %v, first %v", again.Header, first.Header)
	}
	forgetIdempotencyStore(t, env)
	fromLog := alice.Do(t, "DELETE", "/auth/tokens/"+a.ID, nil, "Idempotency-Key", "rev-1").Expect(t, http.StatusNoContent)
	if fromLog.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("revocation replay from the log headers %v", fromLog.Header)
	}
	// Without a key, revoking it again is another request: the token is gone.
	alice.Do(t, "DELETE", "/auth/tokens/"+a.ID, nil).Problem(t, http.StatusNotFound, "not_found")
	// The key is bound to its path: another token's revocation with it is refused.
	alice.Do(t, "DELETE", "/auth/tokens/"+b.ID, nil, "Idempotency-Key", "rev-1").Problem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	if ids := personalTokenIDs(t, alice); len(ids) != 1 || ids[0] != b.ID {
		t.Fatalf("tokens %v, want only %s", ids, b.ID)
	}
	pat := env.Anonymous()
	pat.Token = a.Token
	pat.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	pat.Token = b.Token
	pat.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK)
}
