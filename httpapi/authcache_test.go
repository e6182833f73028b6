package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/changefeed"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/natskv"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/httpapi/authcache"
	"github.com/keyledger/keyledger/httpapi/webhooks"
	"github.com/keyledger/keyledger/projections"
)

// otherReplica starts a second API process's worth of parts on env's NATS server and
// database: its own NATS connection, event store, read-model pool, commands and
// authentication cache, as another replica behind a load balancer has. It runs no
// projector (env's writes the shared read models). The returned Env only serves to make
// clients of the replica.
func otherReplica(t *testing.T, env *apitest.Env) (*apitest.Env, *httpapi.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, err := env.NATS.Server.Connect("replica-b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	store := eventstoretest.OpenStore(ctx, t, nc)
	db, err := projections.Open(ctx, env.DatabaseURL, store.Keyring(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	names, err := reservation.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := natskv.Open(ctx, store, httpapi.SessionsBucket, httpapi.DefaultSessionTTL)
	if err != nil {
		t.Fatal(err)
	}
	idempotency, err := natskv.Open(ctx, store, httpapi.IdempotencyBucket, httpapi.IdempotencyTTL)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := changefeed.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := webhooks.OpenStore(ctx, store, 0)
	if err != nil {
		t.Fatal(err)
	}
	credentials, err := authcache.Open(ctx, store.JetStream(), authcache.Options{Replicas: store.Replicas()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := httpapi.New(httpapi.Config{
		Commands: commands.New(store, names, time.Now), ReadModel: httpapi.ReadModelOf(db), Store: store,
		Signup: httpapi.SignupOpen, WaitTimeout: 10 * time.Second,
		Sessions: sessions, Idempotency: idempotency, Changes: changes, Keys: store.Keyring(),
		Unavailable: eventstore.IsUnavailable, Webhooks: hooks, Credentials: credentials,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Listener(ln)
	}()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
	})
	return &apitest.Env{BaseURL: "http://" + ln.Addr().String()}, srv
}

// on is a bearer client of replica r with token.
func on(r *apitest.Env, token string) *apitest.Client {
	c := r.Anonymous()
	c.Token = token
	return c
}

// Revocation bites on the very next request on every replica although each replica
// answers known credentials from memory: revoke a personal token, a service token and a
// session on replica A, and replica B, which has just answered each from its cache,
// refuses the next request with it. Removing a member bites at once on B too.
func TestRevocationOnOneReplicaBitesOnTheNextRequestOnAnother(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	b, srvB := otherReplica(t, env)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	secret := alice.CreateSecret(t, org.ID, "STRIPE_KEY", map[string]string{"production": "sk_live_1"})
	path := "/orgs/" + org.ID + "/secrets/" + secret.ID

	var pat issuedToken
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "laptop"}).Expect(t, http.StatusCreated).JSON(t, &pat)
	var st issuedToken
	alice.Do(t, "POST", "/orgs/"+org.ID+"/service-tokens", map[string]any{"name": "deploy", "environments": []string{"production"}}).
		Expect(t, http.StatusCreated).JSON(t, &st)
	second := env.Anonymous()
	second.Login(t, "alice@example.com", apitest.Password)
	bob := env.SignUp(t, "bob@example.com", "Bob")
	alice.AddMember(t, org.ID, "bob@example.com", "viewer")

	values := "/orgs/" + org.ID + "/environments/production/values"
	for range 3 { // the first loads, the others are answered from B's cache
		on(b, pat.Token).Do(t, "GET", path, nil).Expect(t, http.StatusOK)
		on(b, st.Token).Do(t, "GET", values, nil).Expect(t, http.StatusOK)
		on(b, second.Token).Do(t, "GET", path, nil).Expect(t, http.StatusOK)
		on(b, bob.Token).Do(t, "GET", path, nil).Expect(t, http.StatusOK)
	}
	if s := srvB.AuthCacheStats(); s.Hits < 8 {
		t.Fatalf("replica B did not answer from its cache: %+v", s)
	}

	alice.Do(t, "DELETE", "/auth/tokens/"+pat.ID, nil).Expect(t, http.StatusNoContent)
	on(b, pat.Token).Do(t, "GET", path, nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	alice.Do(t, "DELETE", "/orgs/"+org.ID+"/service-tokens/"+st.ID, nil).Expect(t, http.StatusNoContent)
	on(b, st.Token).Do(t, "GET", values, nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	second.Do(t, "POST", "/auth/logout", nil).Expect(t, http.StatusNoContent)
	on(b, second.Token).Do(t, "GET", path, nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	alice.Do(t, "DELETE", "/orgs/"+org.ID+"/members/"+bob.UserID, nil).Expect(t, http.StatusNoContent)
	on(b, bob.Token).Do(t, "GET", path, nil).Problem(t, http.StatusNotFound, "not_found")

	// The other credentials still work on B, and A's own cache refuses too.
	on(b, alice.Token).Do(t, "GET", path, nil).Expect(t, http.StatusOK)
	on(env, pat.Token).Do(t, "GET", path, nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	on(env, second.Token).Do(t, "GET", path, nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
}

// Authenticating with a known session or personal token reads nothing from NATS (the
// log or the sessions bucket): with the projector stopped and the cache's heartbeat
// slowed down, twenty requests send no message at all on the server's connection,
// where the first (which loads the credential) sends some.
func TestCachedCredentialsReadNothingFromNATS(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) {
		c.AuthCache = authcache.Options{Heartbeat: time.Hour, Freshness: 2 * time.Hour, PresenceTTL: 3 * time.Hour}
	})
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	secret := alice.CreateSecret(t, org.ID, "DB_URL", map[string]string{"production": "postgres://x"})
	path := "/orgs/" + org.ID + "/secrets/" + secret.ID
	var pat issuedToken
	alice.Do(t, "POST", "/auth/tokens", map[string]any{"name": "ci"}).Expect(t, http.StatusCreated).JSON(t, &pat)
	session := env.Anonymous()
	session.Login(t, "alice@example.com", apitest.Password)
	env.StopProjector()

	sent := func() uint64 { return env.NATS.Conn.Stats().OutMsgs }
	for _, c := range []struct {
		name   string
		client *apitest.Client
	}{{"session", session}, {"personal token", on(env, pat.Token)}} {
		before := sent()
		c.client.Do(t, "GET", path, nil).Expect(t, http.StatusOK)
		if first := sent() - before; first == 0 {
			t.Fatalf("%s: the first request sent nothing on NATS: this test cannot see a read", c.name)
		}
		before = sent()
		for range 20 {
			c.client.Do(t, "GET", path, nil).Expect(t, http.StatusOK)
		}
		if n := sent() - before; n != 0 {
			t.Fatalf("%s: 20 requests with a known credential sent %d NATS messages, want 0", c.name, n)
		}
	}
	if s := env.Server.AuthCacheStats(); s.Hits < 40 {
		t.Fatalf("stats %+v", s)
	}
}
