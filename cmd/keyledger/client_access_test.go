package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAccessCommand(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	a := h.withToken(h.alice.Token)
	bob := h.env.SignUp(t, "bob@example.com", "Bob")
	h.alice.AddMember(t, h.org.ID, bob.Email, "editor")
	sec := h.alice.CreateSecret(t, h.org.ID, "STRIPE_KEY", map[string]string{"production": "sk_live_0123456789"})
	var token struct {
		ID string `json:"id"`
	}
	h.alice.Do(t, "POST", "/orgs/"+h.org.ID+"/service-tokens", map[string]any{"name": "deploy", "environments": []string{"production", "staging"}}).
		Expect(t, http.StatusCreated).JSON(t, &token)
	before := time.Now().UTC()
	h.alice.Do(t, "DELETE", "/orgs/"+h.org.ID+"/service-tokens/"+token.ID, nil).Expect(t, http.StatusNoContent)

	out := a.main(t, "access", "--org", "Acme", "--secret", "stripe_key").ok(t).stdout
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "STRIPE_KEY ("+sec.ID+") at ") {
		t.Errorf("first line %q", lines[0])
	}
	want := "KIND  SUBJECT            ROLE    SCOPE  CAN\n" +
		"user  alice@example.com  owner   all    reveal,modify,delete,fetch\n" +
		"user  bob@example.com    editor  all    reveal,fetch\n"
	if got := strings.Join(lines[1:], "\n"); got != want {
		t.Errorf("access printed\n%s\nwant\n%s", got, want)
	}

	at := before.Format(time.RFC3339Nano)
	out = a.main(t, "access", "--org", h.org.ID, "--secret", "STRIPE_KEY", "--at", at).ok(t).stdout
	want = "KIND           SUBJECT            ROLE    SCOPE               CAN\n" +
		"user           alice@example.com  owner   all                 reveal,modify,delete,fetch\n" +
		"user           bob@example.com    editor  all                 reveal,fetch\n" +
		"service token  deploy             -       staging,production  fetch\n"
	if got := out[strings.Index(out, "\n")+1:]; got != want {
		t.Errorf("access --at printed\n%s\nwant\n%s", got, want)
	}

	// A deleted secret is found by its name as it was, and its past reviewed.
	h.alice.Do(t, "DELETE", "/orgs/"+h.org.ID+"/secrets/"+sec.ID, nil).Expect(t, http.StatusNoContent)
	a.main(t, "access", "--org", "Acme", "--secret", "STRIPE_KEY").failed(t, "no secret named STRIPE_KEY")
	if out := a.main(t, "access", "--org", "Acme", "--secret", "STRIPE_KEY", "--at", at).ok(t).stdout; !strings.Contains(out, "deploy") {
		t.Errorf("review of the deleted secret's past printed %q", out)
	}

	h.withToken(bob.Token).main(t, "access", "--org", "Acme", "--secret", "STRIPE_KEY", "--at", at).failed(t, "Only owners and admins can do this.")
	a.main(t, "access", "--org", "Acme").failed(t, "--secret is required")
	a.main(t, "access", "--org", "Acme", "--secret", "X", "--at", "yesterday").failed(t, "not an RFC 3339 time")
	a.main(t, "access", "--org", "Acme", "--secret", "X", "--at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)).failed(t, "must not be in the future")
	a.main(t, "access", "extra", "--org", "Acme", "--secret", "X").failed(t, "usage: keyledger access")
}
