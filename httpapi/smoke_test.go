package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

func TestSmoke(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "stripe_key", map[string]string{"production": "sk_live_0123456789abcdefghijklmnopqrstuvwxyzRgA1"})
	r := alice.Do(t, "GET", "/orgs/"+org.ID+"/secrets/"+s.ID, nil).Expect(t, http.StatusOK)
	t.Logf("%s", r.Body)
	r = alice.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK)
	t.Logf("%s", r.Body)
}
