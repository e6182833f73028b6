package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/httpapi/wire"
	"github.com/keyledger/keyledger/projections"
)

// Rotating an organization's data key over HTTP: values sealed before still reveal, a
// value set after is sealed under version 2 in the log and in Postgres, the keys list
// shows 1 retired and 2 active, and the log records the rotation on the organization
// without an audit-trail action.
func TestRotateDataKeyOverHTTP(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ctx := context.Background()
	alice := env.SignUp(t, "alice@example.com", "Alice")
	bob := env.SignUp(t, "bob@example.com", "Bob")
	eve := env.SignUp(t, "eve@example.com", "Eve")
	org := alice.CreateOrg(t, "Acme")
	alice.AddMember(t, org.ID, "bob@example.com", "admin")
	o := "/orgs/" + org.ID
	sec := alice.CreateSecret(t, org.ID, "STRIPE_KEY", map[string]string{"production": "sk_live_before_rotation"})
	base := o + "/secrets/" + sec.ID

	var keys wire.List[wire.DataKey]
	alice.Do(t, "GET", o+"/keys", nil).Expect(t, http.StatusOK).JSON(t, &keys)
	if len(keys.Items) != 1 || keys.Items[0].Version != 1 || keys.Items[0].State != "active" || keys.Items[0].CreatedAt.IsZero() {
		t.Fatalf("keys before rotation: %+v", keys.Items)
	}
	auditBefore := auditActions(t, alice, o)

	var rotated wire.DataKeyRotated
	r := alice.Do(t, "POST", o+"/keys/rotate", nil).Expect(t, http.StatusOK)
	r.JSON(t, &rotated)
	if rotated.Version != 2 || r.Header.Get("X-Keyledger-Seq") == "" {
		t.Fatalf("rotate: %+v, seq %q", rotated, r.Header.Get("X-Keyledger-Seq"))
	}

	var rev wire.Revealed
	alice.Do(t, "POST", base+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK).JSON(t, &rev)
	if rev.Value != "sk_live_before_rotation" {
		t.Fatalf("reveal after rotation: %q", rev.Value)
	}
	alice.Do(t, "PATCH", base, map[string]any{"values": map[string]any{"production": "sk_live_after_rotation"}}).Expect(t, http.StatusOK)
	alice.Do(t, "POST", base+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK).JSON(t, &rev)
	if rev.Value != "sk_live_after_rotation" {
		t.Fatalf("reveal of the new value: %q", rev.Value)
	}

	// The log: the update's sealed value names version 2, the create's version 1.
	l, err := env.NATS.Store.Load(ctx, eventstore.Aggregate{OrgID: org.ID, Type: domain.AggregateSecret, ID: sec.ID})
	if err != nil {
		t.Fatal(err)
	}
	created := l.Events[0].Event.(domain.SecretCreated).Values[domain.Production].Sealed
	updated := l.Events[len(l.Events)-1].Event.(domain.SecretUpdated).Set[domain.Production].Sealed
	if v, _ := eventstore.SealedVersion(created); v != 1 {
		t.Fatalf("created value sealed under version %d: %.20s", v, created)
	}
	if v, _ := eventstore.SealedVersion(updated); v != 2 || !strings.HasPrefix(updated, "kl2.") {
		t.Fatalf("updated value sealed under version %d: %.20s", v, updated)
	}
	// The event itself, as JetStream holds it, is sealed under version 2 too.
	msg, err := env.NATS.Store.JetStream().Conn().JetStream()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := msg.GetLastMsg(eventstore.StreamName, eventstore.Subject(org.ID, domain.AggregateSecret, sec.ID))
	if err != nil {
		t.Fatal(err)
	}
	var envelope struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(raw.Data, &envelope); err != nil {
		t.Fatal(err)
	}
	if v, _ := eventstore.SealedVersion(envelope.Payload); v != 2 {
		t.Fatalf("the update's envelope is sealed under version %d: %.20s", v, envelope.Payload)
	}
	// Postgres holds the sealed value as the projector copied it.
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var sealed string
	if err := conn.QueryRow(ctx, `SELECT set_config('search_path', (SELECT schema FROM public.keyledger_read_model), false)`).Scan(new(string)); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT sealed FROM secret_values WHERE secret_id = $1 AND env = 'production'`, sec.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if v, _ := eventstore.SealedVersion(sealed); v != 2 || sealed != updated {
		t.Fatalf("Postgres holds a value sealed under version %d", v)
	}

	alice.Do(t, "GET", o+"/keys", nil).Expect(t, http.StatusOK).JSON(t, &keys)
	if len(keys.Items) != 2 || keys.Items[0].Version != 1 || keys.Items[0].State != "retired" ||
		keys.Items[1].Version != 2 || keys.Items[1].State != "active" {
		t.Fatalf("keys after rotation: %+v", keys.Items)
	}

	// The rotation is an event on the organization, not an audit-trail action.
	ol, err := env.NATS.Store.Load(ctx, eventstore.Aggregate{OrgID: org.ID, Type: domain.AggregateOrganization, ID: org.ID})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ol.Events {
		if ev, ok := e.Event.(domain.DataKeyRotated); ok && ev.Version == 2 && e.Actor.UserID != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no DataKeyRotated{2} with its actor among the organization's events")
	}
	for _, a := range auditActions(t, alice, o)[len(auditBefore):] {
		if a != domain.AuditSecretUpdated && a != domain.AuditSecretRevealed {
			t.Fatalf("the rotation made audit action %q", a)
		}
	}

	// An admin rotates too; a retried Idempotency-Key answers the same version.
	first := bob.Do(t, "POST", o+"/keys/rotate", nil, "Idempotency-Key", "rotate-once").Expect(t, http.StatusOK)
	first.JSON(t, &rotated)
	again := bob.Do(t, "POST", o+"/keys/rotate", nil, "Idempotency-Key", "rotate-once").Expect(t, http.StatusOK)
	var replayed wire.DataKeyRotated
	again.JSON(t, &replayed)
	if rotated.Version != 3 || replayed.Version != 3 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("rotate with an Idempotency-Key: %d then %d (replayed %q)", rotated.Version, replayed.Version, again.Header.Get("Idempotent-Replayed"))
	}
	bob.Do(t, "GET", o+"/keys", nil).Expect(t, http.StatusOK).JSON(t, &keys)
	if len(keys.Items) != 3 || keys.Items[2].State != "active" || keys.Items[1].State != "retired" {
		t.Fatalf("keys after the second rotation: %+v", keys.Items)
	}

	// Editors and viewers may not; strangers do not see the organization.
	alice.Do(t, "PATCH", o+"/members/"+memberID(t, alice, o, "bob@example.com"), map[string]any{"role": "editor"}).Expect(t, http.StatusOK)
	bob.Do(t, "GET", o+"/keys", nil).Problem(t, http.StatusForbidden, "forbidden")
	bob.Do(t, "POST", o+"/keys/rotate", nil).Problem(t, http.StatusForbidden, "forbidden")
	eve.Do(t, "GET", o+"/keys", nil).Problem(t, http.StatusNotFound, "not_found")
	eve.Do(t, "POST", o+"/keys/rotate", nil).Problem(t, http.StatusNotFound, "not_found")
	env.Anonymous().Do(t, "POST", o+"/keys/rotate", nil).Expect(t, http.StatusUnauthorized)
	alice.Do(t, "GET", o+"/keys", nil).Expect(t, http.StatusOK).JSON(t, &keys)
	if len(keys.Items) != 3 {
		t.Fatalf("a refused rotation changed the keys: %+v", keys.Items)
	}
	// Replay from the log alone shows both rotations, with who made them.
	state, err := projections.ReplayOrg(ctx, env.NATS.Store, org.ID, projections.ReplayLimit{})
	if err != nil {
		t.Fatal(err)
	}
	if rs := state.DataKeyRotations; len(rs) != 2 || rs[0].Version != 2 || rs[1].Version != 3 || rs[0].ActorID == "" || rs[0].ActorID == rs[1].ActorID {
		t.Fatalf("replayed rotations %+v", rs)
	}
}

func auditActions(t *testing.T, c *apitest.Client, orgPath string) []string {
	t.Helper()
	var page struct {
		Items []struct {
			Action string `json:"action"`
			Seq    uint64 `json:"seq"`
		} `json:"items"`
	}
	c.Do(t, "GET", orgPath+"/audit?limit=100", nil).Expect(t, http.StatusOK).JSON(t, &page)
	out := make([]string, 0, len(page.Items))
	for i := len(page.Items) - 1; i >= 0; i-- { // oldest first
		out = append(out, page.Items[i].Action)
	}
	return out
}

func memberID(t *testing.T, c *apitest.Client, orgPath, email string) string {
	t.Helper()
	var page wire.List[struct {
		UserID string `json:"user_id"`
		Email  string `json:"email"`
	}]
	c.Do(t, "GET", orgPath+"/members", nil).Expect(t, http.StatusOK).JSON(t, &page)
	for _, m := range page.Items {
		if m.Email == email {
			return m.UserID
		}
	}
	t.Fatalf("no member %s", email)
	return ""
}
