package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

type webhookOut struct {
	ID            string   `json:"id"`
	URL           string   `json:"url"`
	Environments  []string `json:"environments"`
	Description   string   `json:"description"`
	SigningSecret string   `json:"signing_secret"`
}

// A webhook URL on a loopback, private, link-local, unspecified or multicast address
// (IPv4, IPv6, IPv4-mapped, or a name that resolves to one) is refused with 422 on
// url, and nothing is recorded; a public address is accepted.
func TestWebhookURLsOnInternalAddressesAreRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	path := "/orgs/" + org.ID + "/webhooks"
	for _, u := range []string{
		"http://127.0.0.1/hook", "http://127.0.0.1:8080/hook", "https://[::1]/hook",
		"http://10.0.0.1/", "http://10.255.255.254/", "http://172.16.0.1/", "http://172.31.255.1/",
		"http://192.168.1.1/", "http://192.168.255.255/", "http://169.254.169.254/latest/meta-data/",
		"http://[fe80::1]/", "http://[fc00::1]/", "http://[fd00:ec2::254]/",
		"http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/", "http://[::ffff:169.254.169.254]/",
		"http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/", "http://[ff02::1]/", "http://100.64.0.1/",
		"http://localhost:8080/hook", "http://LOCALHOST/",
	} {
		p := alice.Do(t, "POST", path, map[string]any{"url": u}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != "url" || !strings.Contains(p.Errors[0].Message, "public address") {
			t.Errorf("%s: errors %+v", u, p.Errors)
		}
	}
	for _, u := range []string{"", "ftp://example.com/", "file:///etc/passwd", "example.com/hook", "https://", "javascript:alert(1)"} {
		p := alice.Do(t, "POST", path, map[string]any{"url": u}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != "url" {
			t.Errorf("%q: errors %+v", u, p.Errors)
		}
	}
	// A name that does not resolve (.invalid never does) is refused as such.
	p := alice.Do(t, "POST", path, map[string]any{"url": "https://hooks.keyledger.invalid/"}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	if len(p.Errors) != 1 || p.Errors[0].Field != "url" || !strings.Contains(p.Errors[0].Message, "resolves") {
		t.Errorf("unresolvable host: errors %+v", p.Errors)
	}
	var list struct {
		Items []webhookOut `json:"items"`
	}
	alice.Do(t, "GET", path, nil).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("refused webhooks were recorded: %+v", list.Items)
	}
	// A public address literal needs no DNS: accepted.
	var w webhookOut
	alice.Do(t, "POST", path, map[string]any{"url": "https://93.184.215.14/hook"}).Expect(t, http.StatusCreated).JSON(t, &w)
	if w.URL != "https://93.184.215.14/hook" || len(w.Environments) != 0 {
		t.Fatalf("created %+v", w)
	}
}

func TestWebhookRoutesForOwnersAndAdminsOnly(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	path := "/orgs/" + org.ID + "/webhooks"
	env.SignUp(t, "adam@example.com", "Adam")
	env.SignUp(t, "eddie@example.com", "Eddie")
	alice.AddMember(t, org.ID, "adam@example.com", "admin")
	alice.AddMember(t, org.ID, "eddie@example.com", "editor")
	adam := env.Anonymous()
	adam.Login(t, "adam@example.com", apitest.Password)
	eddie := env.Anonymous()
	eddie.Login(t, "eddie@example.com", apitest.Password)
	eve := env.SignUp(t, "eve@example.com", "Eve")

	body := map[string]any{"url": "https://93.184.215.14/k?token=abc", "environments": []string{"production", "staging"}, "description": "deploy bot"}
	var w webhookOut
	adam.Do(t, "POST", path, body).Expect(t, http.StatusCreated).JSON(t, &w)
	if !strings.HasPrefix(w.SigningSecret, "whsec_") || len(w.SigningSecret) < 40 || w.Description != "deploy bot" ||
		strings.Join(w.Environments, ",") != "staging,production" {
		t.Fatalf("created %+v", w)
	}
	eddie.Do(t, "POST", path, body).Problem(t, http.StatusForbidden, "forbidden")
	eve.Do(t, "POST", path, body).Problem(t, http.StatusNotFound, "not_found")
	eddie.Do(t, "GET", path, nil).Problem(t, http.StatusForbidden, "forbidden")
	eve.Do(t, "GET", path, nil).Problem(t, http.StatusNotFound, "not_found")
	eddie.Do(t, "GET", path+"/"+w.ID+"/deliveries", nil).Problem(t, http.StatusForbidden, "forbidden")
	eddie.Do(t, "DELETE", path+"/"+w.ID, nil).Problem(t, http.StatusForbidden, "forbidden")
	alice.Do(t, "POST", path, map[string]any{"url": "https://93.184.215.14/", "environments": []string{"qa"}}).
		Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	alice.Do(t, "POST", path, map[string]any{"url": "https://93.184.215.14/", "description": "a\x00b"}).
		Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	alice.Do(t, "POST", path, map[string]any{"url": "https://93.184.215.14/", "secret": "mine"}).Problem(t, http.StatusBadRequest, "invalid_request")

	// The list never shows the signing secret.
	r := alice.Do(t, "GET", path, nil).Expect(t, http.StatusOK)
	if strings.Contains(string(r.Body), w.SigningSecret) || strings.Contains(string(r.Body), "signing_secret") || !strings.Contains(string(r.Body), w.ID) {
		t.Fatalf("list: %s", r.Body)
	}
	alice.Do(t, "GET", path+"/"+w.ID+"/deliveries", nil).Expect(t, http.StatusOK)
	alice.Do(t, "GET", path+"/"+w.ID+"/deliveries?limit=501", nil).Problem(t, http.StatusBadRequest, "invalid_request")
	alice.Do(t, "GET", path+"/not-a-uuid/deliveries", nil).Problem(t, http.StatusNotFound, "not_found")

	// The audit trail names who registered and removed it.
	adam.Do(t, "DELETE", path+"/"+w.ID, nil).Expect(t, http.StatusNoContent)
	adam.Do(t, "DELETE", path+"/"+w.ID, nil).Problem(t, http.StatusNotFound, "not_found")
	alice.Do(t, "GET", path+"/"+w.ID+"/deliveries", nil).Problem(t, http.StatusNotFound, "not_found")
	alice.Do(t, "POST", path+"/"+w.ID+"/deliveries/00000000-0000-4000-8000-000000000000/redeliver", nil).Problem(t, http.StatusNotFound, "not_found")
	var audit struct {
		Items []struct {
			Action  string `json:"action"`
			Outcome string `json:"outcome"`
		} `json:"items"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit", nil).Expect(t, http.StatusOK).JSON(t, &audit)
	var actions []string
	for _, it := range audit.Items {
		if strings.HasPrefix(it.Action, "webhook.") {
			actions = append(actions, it.Action+"/"+it.Outcome)
		}
	}
	for _, want := range []string{"webhook.created/success", "webhook.created/denied", "webhook.deleted/success", "webhook.deleted/denied"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit: no %s in %v", want, actions)
		}
	}
}

// The same Idempotency-Key answers the first result (the same webhook), without its
// signing secret: a replay never hands out a credential a second time (API.md), as
// with service tokens. With another body the key is refused.
func TestWebhookCreationIsIdempotent(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	path := "/orgs/" + org.ID + "/webhooks"
	body := map[string]any{"url": "https://93.184.215.14/hook"}
	var first, again webhookOut
	alice.Do(t, "POST", path, body, "Idempotency-Key", "k-1").Expect(t, http.StatusCreated).JSON(t, &first)
	r := alice.Do(t, "POST", path, body, "Idempotency-Key", "k-1").Expect(t, http.StatusCreated)
	r.JSON(t, &again)
	if first.SigningSecret == "" || again.ID != first.ID || again.SigningSecret != "" || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay %+v (%s), first %+v", again, r.Header.Get("Idempotent-Replayed"), first)
	}
	alice.Do(t, "POST", path, map[string]any{"url": "https://93.184.215.15/hook"}, "Idempotency-Key", "k-1").
		Problem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	var list struct {
		Items []webhookOut `json:"items"`
	}
	alice.Do(t, "GET", path, nil).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d webhooks after a replay", len(list.Items))
	}

	// The key is bound to the request across routes too (API.md: another method, path
	// or body → 422), both ways: a webhook's key on a secret's creation, and a
	// secret's key on a webhook's. Each answered 201 and made what it was asked.
	alice.Do(t, "POST", "/orgs/"+org.ID+"/secrets", map[string]any{"name": "A"}, "Idempotency-Key", "k-1").
		Problem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	alice.Do(t, "POST", "/orgs/"+org.ID+"/secrets", map[string]any{"name": "B"}, "Idempotency-Key", "k-2").Expect(t, http.StatusCreated)
	alice.Do(t, "POST", path, map[string]any{"url": "https://93.184.215.16/hook"}, "Idempotency-Key", "k-2").
		Problem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	alice.Do(t, "GET", path, nil).Expect(t, http.StatusOK).JSON(t, &list)
	var secrets struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/secrets", nil).Expect(t, http.StatusOK).JSON(t, &secrets)
	if len(list.Items) != 1 || len(secrets.Items) != 1 || secrets.Items[0].Name != "B" {
		t.Fatalf("after reused keys: %d webhooks, secrets %+v", len(list.Items), secrets.Items)
	}
}

// A URL whose port is not a number from 1 to 65535 is refused with 422 on url (every
// delivery to it would fail), and no webhook is recorded.
func TestWebhookURLsWithImpossiblePortsAreRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	path := "/orgs/" + org.ID + "/webhooks"
	for _, u := range []string{
		"https://93.184.215.14:99999/x", "https://93.184.215.14:65536/x", "https://93.184.215.14:0/x",
		"https://93.184.215.14:abc/x", "https://example.com:99999/x", "https://example.com:0/x", "https://example.com:http/x",
	} {
		p := alice.Do(t, "POST", path, map[string]any{"url": u}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != "url" || !strings.Contains(p.Errors[0].Message, "port") {
			t.Errorf("%s: errors %+v", u, p.Errors)
		}
	}
	var list struct {
		Items []webhookOut `json:"items"`
	}
	alice.Do(t, "GET", path, nil).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("refused webhooks were recorded: %+v", list.Items)
	}
	var w webhookOut
	alice.Do(t, "POST", path, map[string]any{"url": "https://93.184.215.14:65535/x"}).Expect(t, http.StatusCreated).JSON(t, &w)
	if w.URL != "https://93.184.215.14:65535/x" {
		t.Fatalf("created %+v", w)
	}
}
