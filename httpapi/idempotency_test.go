package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi"
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

// forgetIdempotencyStore empties the idempotency store, as a crash between a
// command's append and its answer leaves it: only the log knows the key then.
func forgetIdempotencyStore(t *testing.T, env *apitest.Env) {
	t.Helper()
	ctx := context.Background()
	kv, err := env.NATS.Store.JetStream().KeyValue(ctx, httpapi.IdempotencyBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		if err := kv.Purge(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIdempotencyKeyIsAnsweredFromTheLogAfterACrash(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	base := "/orgs/" + org.ID + "/secrets"
	create := map[string]any{"name": "CRASHY", "values": map[string]any{"production": "v1-value"}}
	first := alice.Do(t, "POST", base, create, "Idempotency-Key", "c-1").Expect(t, http.StatusCreated)
	var s apitest.Secret
	first.JSON(t, &s)
	patch := map[string]any{"values": map[string]any{"production": "v2-value"}, "expected_version": 1}
	p1 := alice.Do(t, "PATCH", base+"/"+s.ID, patch, "Idempotency-Key", "p-1").Expect(t, http.StatusOK)

	forgetIdempotencyStore(t, env)

	// The retry of the update with expected_version 1 would be a version conflict if it
	// ran again; it finds its first result in the log instead.
	p2 := alice.Do(t, "PATCH", base+"/"+s.ID, patch, "Idempotency-Key", "p-1").Expect(t, http.StatusOK)
	if !bytes.Equal(p1.Body, p2.Body) || p2.Header.Get("X-Keyledger-Seq") != p1.Header.Get("X-Keyledger-Seq") || p2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry after the store was lost:\n%d %s\nfirst:\n%s", p2.Status, p2.Body, p1.Body)
	}
	c2 := alice.Do(t, "POST", base, create, "Idempotency-Key", "c-1").Expect(t, http.StatusCreated)
	if !bytes.Equal(first.Body, c2.Body) {
		t.Fatalf("create retry:\n%s\nfirst:\n%s", c2.Body, first.Body)
	}
	// The log binds the key to its request too: another body is refused.
	forgetIdempotencyStore(t, env)
	other := map[string]any{"values": map[string]any{"production": "v3-value"}, "expected_version": 2}
	alice.Do(t, "PATCH", base+"/"+s.ID, other, "Idempotency-Key", "p-1").Problem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	var now apitest.Secret
	alice.Do(t, "GET", base+"/"+s.ID, nil).Expect(t, http.StatusOK).JSON(t, &now)
	if now.Version != 2 {
		t.Fatalf("version %d after retries, want 2", now.Version)
	}
}

func TestIdempotencyKeyReusedWithAnotherRequestIsRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	base := "/orgs/" + org.ID + "/secrets"
	alice.Do(t, "POST", base, map[string]any{"name": "FIRST"}, "Idempotency-Key", "k").Expect(t, http.StatusCreated)
	// Another body, another path, another method: each is another request.
	alice.Do(t, "POST", base, map[string]any{"name": "SECOND"}, "Idempotency-Key", "k").Problem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	alice.Do(t, "POST", "/orgs", map[string]any{"name": "Other"}, "Idempotency-Key", "k").Problem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	var pg page
	alice.Do(t, "GET", base, nil).Expect(t, http.StatusOK).JSON(t, &pg)
	if got := names(pg); len(got) != 1 || got[0] != "FIRST" {
		t.Fatalf("secrets %v, want only FIRST", got)
	}
}

func TestServiceTokenReplayNeverHandsOutTheToken(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	adam := env.SignUp(t, "adam@example.com", "Adam")
	alice.AddMember(t, org.ID, adam.Email, "admin")
	path := "/orgs/" + org.ID + "/service-tokens"
	body := map[string]any{"name": "deploy", "environments": []string{"production"}}
	first := adam.Do(t, "POST", path, body, "Idempotency-Key", "tok").Expect(t, http.StatusCreated)
	var issued struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	first.JSON(t, &issued)
	if !strings.HasPrefix(issued.Token, "kl_st_") {
		t.Fatalf("first answer has no token: %s", first.Body)
	}
	// The token issued under a key works: its id is the aggregate's.
	integration := env.Anonymous()
	integration.Token = issued.Token
	integration.Do(t, "GET", "/orgs/"+org.ID+"/environments/production/values", nil).Expect(t, http.StatusOK)
	again := adam.Do(t, "POST", path, body, "Idempotency-Key", "tok").Expect(t, http.StatusCreated)
	var replayed map[string]any
	again.JSON(t, &replayed)
	if _, ok := replayed["token"]; ok || replayed["id"] != issued.ID || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay %s", again.Body)
	}
	// Removed from the organization, the admin's replay tells nothing.
	alice.Do(t, "DELETE", "/orgs/"+org.ID+"/members/"+adam.UserID, nil).Expect(t, http.StatusNoContent)
	adam.Do(t, "POST", path, body, "Idempotency-Key", "tok").Problem(t, http.StatusNotFound, "not_found")
	// The same holds for an organization created with a key and left since.
	o2 := adam.Do(t, "POST", "/orgs", map[string]any{"name": "Adams"}, "Idempotency-Key", "org").Expect(t, http.StatusCreated)
	var created apitest.Org
	o2.JSON(t, &created)
	adam.Do(t, "POST", "/orgs/"+created.ID+"/members", map[string]any{"email": alice.Email, "role": "owner"}).Expect(t, http.StatusCreated)
	alice.Do(t, "DELETE", "/orgs/"+created.ID+"/members/"+adam.UserID, nil).Expect(t, http.StatusNoContent)
	adam.Do(t, "POST", "/orgs", map[string]any{"name": "Adams"}, "Idempotency-Key", "org").Problem(t, http.StatusNotFound, "not_found")
}

func TestRecordedCommandAnswersSuccessWhileTheReadModelsLag(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.WaitTimeout = 200 * time.Millisecond })
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	base := "/orgs/" + org.ID + "/secrets"
	env.StopProjector()

	created := alice.Do(t, "POST", base, map[string]any{"name": "LAGGING", "description": "d",
		"values": map[string]any{"production": "sk_live_0123456789abcdefghijklmnopqrstuvwxyz"}}).Expect(t, http.StatusCreated)
	var s apitest.Secret
	created.JSON(t, &s)
	if s.Name != "LAGGING" || s.Version != 1 || s.Environments["production"].Mask != "sk_live_***wxyz" || created.Header.Get("X-Keyledger-Seq") == "" {
		t.Fatalf("create answered from its own result: %s", created.Body)
	}
	updated := alice.Do(t, "PATCH", base+"/"+s.ID, map[string]any{"values": map[string]any{"staging": "staging-value"}, "expected_version": 1}).Expect(t, http.StatusOK)
	var u apitest.Secret
	updated.JSON(t, &u)
	if u.Version != 2 || !u.Environments["staging"].Set || !u.Environments["production"].Set {
		t.Fatalf("update answered from its own result: %s", updated.Body)
	}

	bob := env.SignUp(t, "bob@example.com", "Bob")
	env.StopProjector()
	answers := map[string]*apitest.Response{
		"/orgs/" + org.ID: alice.Do(t, "PATCH", "/orgs/"+org.ID, map[string]any{"name": "Acme Renamed"}).Expect(t, http.StatusOK),
		"/orgs/" + org.ID + "/members/" + bob.UserID: func() *apitest.Response {
			alice.Do(t, "POST", "/orgs/"+org.ID+"/members", map[string]any{"email": bob.Email, "role": "viewer"}).Expect(t, http.StatusCreated)
			return alice.Do(t, "PATCH", "/orgs/"+org.ID+"/members/"+bob.UserID, map[string]any{"role": "editor"}).Expect(t, http.StatusOK)
		}(),
	}
	newOrg := alice.Do(t, "POST", "/orgs", map[string]any{"name": "Lagging Co"}).Expect(t, http.StatusCreated)
	var o apitest.Org
	newOrg.JSON(t, &o)
	answers["/orgs/"+o.ID] = newOrg
	env.StartProjector(t)
	// The server waits only 200 ms here: wait for the read models to catch up first.
	var newest uint64
	for _, answer := range answers {
		seq, _ := strconv.ParseUint(answer.Header.Get("X-Keyledger-Seq"), 10, 64)
		newest = max(newest, seq)
	}
	env.Wait(t, newest)
	for path, answer := range answers {
		var fromLog, fromReadModel map[string]any
		answer.JSON(t, &fromLog)
		if path == "/orgs/"+org.ID+"/members/"+bob.UserID {
			var members struct {
				Items []map[string]any `json:"items"`
			}
			alice.Do(t, "GET", "/orgs/"+org.ID+"/members?min_seq="+answer.Header.Get("X-Keyledger-Seq"), nil).Expect(t, http.StatusOK).JSON(t, &members)
			for _, m := range members.Items {
				if m["user_id"] == bob.UserID {
					fromReadModel = m
				}
			}
		} else {
			alice.Do(t, "GET", path+"?min_seq="+answer.Header.Get("X-Keyledger-Seq"), nil).Expect(t, http.StatusOK).JSON(t, &fromReadModel)
		}
		if !reflect.DeepEqual(fromLog, fromReadModel) {
			t.Fatalf("%s answered while the read models lagged:\n%v\nread model:\n%v", path, fromLog, fromReadModel)
		}
	}
	var got apitest.Secret
	alice.Do(t, "GET", base+"/"+s.ID+"?min_seq="+updated.Header.Get("X-Keyledger-Seq"), nil).Expect(t, http.StatusOK).JSON(t, &got)
	var fromReadModel, fromCommand map[string]any
	alice.Do(t, "GET", base+"/"+s.ID, nil).Expect(t, http.StatusOK).JSON(t, &fromReadModel)
	updated.JSON(t, &fromCommand)
	if !reflect.DeepEqual(fromReadModel, fromCommand) {
		t.Fatalf("the command's answer and the read model differ:\n%v\n%v", fromCommand, fromReadModel)
	}
}
