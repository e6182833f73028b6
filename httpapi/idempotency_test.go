package httpapi_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

func TestIdempotencyKeyReplaysTheFirstResult(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	base := "/orgs/" + org.ID + "/secrets"
	body := map[string]any{"name": "ONCE", "values": map[string]any{"production": "the-value-123"}}

	first := alice.Do(t, "POST", base, body, "Idempotency-Key", "key-1").Expect(t, http.StatusCreated)
	second := alice.Do(t, "POST", base, body, "Idempotency-Key", "key-1")
	if second.Status != first.Status || !bytes.Equal(second.Body, first.Body) {
		t.Fatalf("replay %d %s, first %d %s", second.Status, second.Body, first.Status, first.Body)
	}
	if second.Header.Get("X-Keyledger-Seq") != first.Header.Get("X-Keyledger-Seq") || second.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay headers %v", second.Header)
	}
	var pg page
	alice.Do(t, "GET", base, nil).Expect(t, http.StatusOK).JSON(t, &pg)
	if len(pg.Items) != 1 {
		t.Fatalf("a replay created something: %v", names(pg))
	}

	// Another key is another request: the name is taken now.
	alice.Do(t, "POST", base, body, "Idempotency-Key", "key-2").Problem(t, http.StatusConflict, "secret_name_taken")
	// A refusal is remembered as well: the same key returns the same 409.
	again := alice.Do(t, "POST", base, body, "Idempotency-Key", "key-2")
	again.Problem(t, http.StatusConflict, "secret_name_taken")

	// Another user's identical key is not theirs to replay.
	bob := env.SignUp(t, "bob@example.com", "Bob")
	alice.AddMember(t, org.ID, bob.Email, "editor")
	bob.Do(t, "POST", base, map[string]any{"name": "BOBS"}, "Idempotency-Key", "key-1").Expect(t, http.StatusCreated)

	// A PATCH replayed does not bump the version twice.
	var s apitest.Secret
	first.JSON(t, &s)
	patch := map[string]any{"values": map[string]any{"production": "new-value-456"}}
	p1 := alice.Do(t, "PATCH", base+"/"+s.ID, patch, "Idempotency-Key", "patch-1").Expect(t, http.StatusOK)
	alice.Do(t, "PATCH", base+"/"+s.ID, map[string]any{"values": map[string]any{"production": "newer-value-789"}}).Expect(t, http.StatusOK)
	p2 := alice.Do(t, "PATCH", base+"/"+s.ID, patch, "Idempotency-Key", "patch-1").Expect(t, http.StatusOK)
	if !bytes.Equal(p1.Body, p2.Body) {
		t.Fatalf("patch replay differs:\n%s\n%s", p1.Body, p2.Body)
	}
	var now apitest.Secret
	alice.Do(t, "GET", base+"/"+s.ID, nil).Expect(t, http.StatusOK).JSON(t, &now)
	if now.Version != 3 || now.Environments["production"].Version != 3 {
		t.Fatalf("after replayed patch %+v", now)
	}

	// A DELETE replayed answers 204 again and deletes nothing else.
	alice.Do(t, "DELETE", base+"/"+s.ID+"?env=production", nil, "Idempotency-Key", "del-1").Expect(t, http.StatusNoContent)
	alice.Do(t, "DELETE", base+"/"+s.ID+"?env=production", nil, "Idempotency-Key", "del-1").Expect(t, http.StatusNoContent)
}

func TestRevealIsNeverReplayed(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "KEY", map[string]string{"development": "first-value"})
	path := "/orgs/" + org.ID + "/secrets/" + s.ID
	r1 := alice.Do(t, "POST", path+"/reveal", map[string]any{"env": "development"}, "Idempotency-Key", "r").Expect(t, http.StatusOK)
	alice.Do(t, "PATCH", path, map[string]any{"values": map[string]any{"development": "second-value"}}).Expect(t, http.StatusOK)
	r2 := alice.Do(t, "POST", path+"/reveal", map[string]any{"env": "development"}, "Idempotency-Key", "r").Expect(t, http.StatusOK)
	if r2.Header.Get("Idempotent-Replayed") != "" || bytes.Equal(r1.Body, r2.Body) || !bytes.Contains(r2.Body, []byte("second-value")) {
		t.Fatalf("reveal was replayed: %s", r2.Body)
	}
}
