package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

// A secret's value history answers as the secret does: a path id GET does not know (an
// upper-case spelling of the id, not a UUID, no such secret) is 404 for /versions too,
// and so is a deleted secret's, as its GET is; a removed environment's value leaves the
// secret, and its history, readable.
func TestSecretVersionsAnswerAsTheSecretDoes(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "p-value", "staging": "s-value"})
	secrets := "/orgs/" + org.ID + "/secrets/"
	alice.Do(t, "GET", secrets+s.ID+"/versions", nil).Expect(t, http.StatusOK)
	for _, id := range []string{strings.ToUpper(s.ID), "not-a-uuid", "00000000-0000-4000-8000-000000000000"} {
		alice.Do(t, "GET", secrets+id, nil).Problem(t, http.StatusNotFound, "not_found")
		alice.Do(t, "GET", secrets+id+"/versions", nil).Problem(t, http.StatusNotFound, "not_found")
		alice.Do(t, "GET", secrets+id+"/versions?env=production", nil).Problem(t, http.StatusNotFound, "not_found")
	}
	// Another organization's secret is not found through this one.
	other := alice.CreateOrg(t, "Elsewhere")
	alice.Do(t, "GET", "/orgs/"+other.ID+"/secrets/"+s.ID+"/versions", nil).Problem(t, http.StatusNotFound, "not_found")

	alice.Do(t, "DELETE", secrets+s.ID+"?env=staging", nil).Expect(t, http.StatusNoContent)
	var vs struct {
		Items []struct {
			Env    string `json:"env"`
			Action string `json:"action"`
		} `json:"items"`
	}
	alice.Do(t, "GET", secrets+s.ID+"/versions?env=staging", nil).Expect(t, http.StatusOK).JSON(t, &vs)
	if len(vs.Items) != 2 || vs.Items[0].Action != "deleted" {
		t.Fatalf("versions after removing a value: %+v", vs.Items)
	}

	alice.Do(t, "DELETE", secrets+s.ID, nil).Expect(t, http.StatusNoContent)
	alice.Do(t, "GET", secrets+s.ID, nil).Problem(t, http.StatusNotFound, "not_found")
	alice.Do(t, "GET", secrets+s.ID+"/versions", nil).Problem(t, http.StatusNotFound, "not_found")
	alice.Do(t, "GET", secrets+s.ID+"/versions?env=production", nil).Problem(t, http.StatusNotFound, "not_found")
}

// The access review's secret_id is a query parameter: one that is not a UUID is a bad
// query parameter (400 invalid_request), as the audit trail's secret_id is; a UUID
// that names no secret of the organization is 404.
func TestAccessReviewRefusesAMalformedSecretID(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	olive := env.SignUp(t, "olive@example.com", "Olive")
	org := olive.CreateOrg(t, "Acme")
	sec := olive.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "p-value"})
	base := "/orgs/" + org.ID
	for _, bad := range []string{"abc", "nope", sec.ID + "x", "{" + sec.ID + "}", "urn:uuid:" + sec.ID, strings.ReplaceAll(sec.ID, "-", "")} {
		q := url.QueryEscape(bad)
		olive.Do(t, "GET", base+"/access?secret_id="+q, nil).Problem(t, http.StatusBadRequest, "invalid_request")
		olive.Do(t, "GET", base+"/audit?secret_id="+q, nil).Problem(t, http.StatusBadRequest, "invalid_request")
	}
	for _, missing := range []string{"00000000-0000-4000-8000-000000000000", strings.ToUpper(sec.ID)} {
		olive.Do(t, "GET", base+"/access?secret_id="+missing, nil).Problem(t, http.StatusNotFound, "not_found")
	}
	olive.Do(t, "GET", base+"/access?secret_id="+sec.ID, nil).Expect(t, http.StatusOK)
	// Whether the caller may ask comes first: a non-member learns nothing, even that
	// the parameter is malformed.
	eve := env.SignUp(t, "eve@example.com", "Eve")
	eve.Do(t, "GET", base+"/access?secret_id=abc", nil).Problem(t, http.StatusNotFound, "not_found")
}

// Every reveal, allowed or denied, is audited (API.md): one the policy allows that
// finds no value in the environment (404) is recorded as a secret.revealed attempt
// with outcome denied — it showed nothing, so it is not a success. A malformed reveal
// (an environment that is not one, 422) and one of a secret that does not exist (404)
// are not reveals of a secret and leave the trail as it was.
func TestRevealOfAnEnvironmentWithoutValueIsAudited(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	env.SignUp(t, "vic@example.com", "Vic")
	alice.AddMember(t, org.ID, "vic@example.com", "viewer")
	vic := env.Anonymous()
	vic.Login(t, "vic@example.com", apitest.Password)
	s := alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "p-value"})
	secret := "/orgs/" + org.ID + "/secrets/" + s.ID

	type entry struct {
		Action   string  `json:"action"`
		Outcome  string  `json:"outcome"`
		SecretID *string `json:"secret_id"`
		Env      *string `json:"env"`
		Actor    struct {
			Email string `json:"email"`
		} `json:"actor"`
	}
	reveals := func() []entry {
		t.Helper()
		var page struct {
			Items []entry `json:"items"`
		}
		alice.Do(t, "GET", "/orgs/"+org.ID+"/audit", nil).Expect(t, http.StatusOK).JSON(t, &page)
		var out []entry
		for _, e := range page.Items {
			if e.Action == "secret.revealed" {
				out = append(out, e)
			}
		}
		return out
	}

	vic.Do(t, "POST", secret+"/reveal", map[string]any{"env": "staging"}).Problem(t, http.StatusNotFound, "not_found")
	got := reveals()
	if len(got) != 1 {
		t.Fatalf("after a reveal of an environment without value: %d secret.revealed entries %+v, want 1", len(got), got)
	}
	if e := got[0]; e.Outcome != "denied" || e.SecretID == nil || *e.SecretID != s.ID || e.Env == nil || *e.Env != "staging" || e.Actor.Email != "vic@example.com" {
		t.Fatalf("entry %+v (secret %v, env %v)", e, e.SecretID, e.Env)
	}

	// Not reveals of a secret: nothing more is recorded.
	vic.Do(t, "POST", secret+"/reveal", map[string]any{"env": "nowhere"}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	vic.Do(t, "POST", "/orgs/"+org.ID+"/secrets/00000000-0000-4000-8000-000000000000/reveal", map[string]any{"env": "staging"}).
		Problem(t, http.StatusNotFound, "not_found")
	if got := reveals(); len(got) != 1 {
		t.Fatalf("malformed or secret-less reveals were recorded: %+v", got)
	}

	// A reveal that shows the value is a success, as before.
	vic.Do(t, "POST", secret+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK)
	if got := reveals(); len(got) != 2 || got[0].Outcome != "success" || got[0].Env == nil || *got[0].Env != "production" {
		t.Fatalf("after an allowed reveal: %+v", got)
	}

	// A deleted secret's reveal is 404 for lack of the secret, not of a value: it is
	// not recorded.
	alice.Do(t, "DELETE", secret, nil).Expect(t, http.StatusNoContent)
	vic.Do(t, "POST", secret+"/reveal", map[string]any{"env": "production"}).Problem(t, http.StatusNotFound, "not_found")
	if got := reveals(); len(got) != 2 {
		t.Fatalf("a deleted secret's reveal was recorded: %+v", got)
	}
}
