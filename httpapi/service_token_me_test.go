package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

// An integration given an organization's name (keyledger run --org Acme) must turn it
// into the id the values route takes: GET /me tells a service token which
// organization it belongs to and what it may read, and stops when it is revoked.
func TestMeAnswersAServiceTokenWithItsOrganization(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	other := alice.CreateOrg(t, "Globex")
	var tok issuedToken
	alice.Do(t, "POST", "/orgs/"+org.ID+"/service-tokens", map[string]any{"name": "deploy", "environments": []string{"staging", "production"}}).
		Expect(t, http.StatusCreated).JSON(t, &tok)
	// A token of another organization, to tell the two apart.
	alice.Do(t, "POST", "/orgs/"+other.ID+"/service-tokens", map[string]any{"name": "deploy", "environments": []string{"production"}}).
		Expect(t, http.StatusCreated)

	svc := env.Anonymous()
	svc.Token = tok.Token
	var me struct {
		ServiceToken struct {
			ID           string   `json:"id"`
			Name         string   `json:"name"`
			OrgID        string   `json:"org_id"`
			OrgName      string   `json:"org_name"`
			Environments []string `json:"environments"`
			ExpiresAt    *string  `json:"expires_at"`
		} `json:"service_token"`
		User any `json:"user"`
	}
	// Twice: the second answer comes from the authentication cache.
	for range 2 {
		svc.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK).JSON(t, &me)
		st := me.ServiceToken
		if st.ID != tok.ID || st.Name != "deploy" || st.OrgID != org.ID || st.OrgName != "Acme" ||
			len(st.Environments) != 2 || st.Environments[0] != "staging" || st.Environments[1] != "production" ||
			st.ExpiresAt != nil || me.User != nil {
			t.Fatalf("GET /me with a service token: %+v", me)
		}
	}

	// The organization's new name shows at once.
	alice.Do(t, "PATCH", "/orgs/"+org.ID, map[string]any{"name": "Acme Inc"}).Expect(t, http.StatusOK)
	svc.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK).JSON(t, &me)
	if me.ServiceToken.OrgName != "Acme Inc" {
		t.Fatalf("after the rename: %+v", me.ServiceToken)
	}

	// A service token is still no user: the user routes stay closed to it.
	svc.Do(t, "GET", "/orgs", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	// A wrong secret for a real token id, or an unknown id, is unauthenticated.
	forged := env.Anonymous()
	forged.Token = tok.Token[:len(tok.Token)-4] + "AAAA"
	forged.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
	forged.Token = "kl_st_00000000000000000000000000000000abcdefabcdefabcdef"
	forged.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	alice.Do(t, "DELETE", "/orgs/"+org.ID+"/service-tokens/"+tok.ID, nil).Expect(t, http.StatusNoContent)
	svc.Do(t, "GET", "/me", nil).Problem(t, http.StatusUnauthorized, "unauthenticated")
}
