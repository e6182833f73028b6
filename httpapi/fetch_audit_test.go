package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
)

// A fetch of more values than one audit event may list records their count and the
// digest of their names instead (one log message has a maximum size: a list of every
// name failed the fetch past some 50,000 names). The bound is lowered here so that a
// few secrets cross it; eventstore's TestWorstCaseFetchEventFitsOneMessage proves that
// the default fits. The trail says what happened, and its chain still verifies.
func TestValuesFetchAuditBoundsTheNamesItLists(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.MaxFetchedNames = 3 })
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	var names []string
	for i := range 5 {
		name := fmt.Sprintf("KEY_%d", 4-i)
		values := map[string]string{"production": "prod-value-" + name}
		if i < 2 {
			values["development"] = "dev-value-" + name
		}
		alice.CreateSecret(t, org.ID, name, values)
		names = append(names, name)
	}
	slices.Sort(names)
	var tok issuedToken
	alice.Do(t, "POST", "/orgs/"+org.ID+"/service-tokens", map[string]any{"name": "deploy", "environments": []string{"production", "development", "staging"}}).
		Expect(t, http.StatusCreated).JSON(t, &tok)
	svc := env.Anonymous()
	svc.Token = tok.Token

	var got struct {
		Values map[string]string `json:"values"`
		Seq    uint64            `json:"seq"`
	}
	svc.Do(t, "GET", "/orgs/"+org.ID+"/environments/production/values", nil).Expect(t, http.StatusOK).JSON(t, &got)
	if len(got.Values) != 5 || got.Values["KEY_0"] != "prod-value-KEY_0" {
		t.Fatalf("values %+v", got)
	}
	svc.Do(t, "GET", "/orgs/"+org.ID+"/environments/development/values", nil).Expect(t, http.StatusOK)
	// An empty environment: no names, and the chain must verify over that entry too.
	svc.Do(t, "GET", "/orgs/"+org.ID+"/environments/staging/values", nil).Expect(t, http.StatusOK)

	var audit struct {
		Items []struct {
			Env     string   `json:"env"`
			Details string   `json:"details"`
			Names   []string `json:"names"`
		} `json:"items"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit?action=secrets.fetched", nil).Expect(t, http.StatusOK).JSON(t, &audit)
	if len(audit.Items) != 3 || audit.Items[0].Env != "staging" || audit.Items[0].Details != "0 secrets" || len(audit.Items[0].Names) != 0 {
		t.Fatalf("fetch audit %+v", audit.Items)
	}
	dev, prod := audit.Items[1], audit.Items[2]
	if dev.Env != "development" || strings.Join(dev.Names, ",") != "KEY_3,KEY_4" || dev.Details != "2 secrets" {
		t.Fatalf("a fetch within the bound lists its names: %+v", dev)
	}
	var digest strings.Builder
	for _, n := range names {
		digest.WriteString(n + "\n")
	}
	sum := sha256.Sum256([]byte(digest.String()))
	if prod.Env != "production" || len(prod.Names) != 0 || !strings.HasPrefix(prod.Details, "5 secrets;") ||
		!strings.HasSuffix(prod.Details, hex.EncodeToString(sum[:])) {
		t.Fatalf("a fetch past the bound records the count and the digest of the sorted names %v: %+v", names, prod)
	}
	jsonl := alice.Do(t, "GET", "/orgs/"+org.ID+"/audit/export?format=jsonl&action=secrets.fetched", nil).Expect(t, http.StatusOK)
	if !strings.Contains(string(jsonl.Body), hex.EncodeToString(sum[:])) {
		t.Fatalf("the export misses the digest:\n%s", jsonl.Body)
	}
	var ok struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
		Seq    uint64 `json:"broken_seq"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit/verify", nil).Expect(t, http.StatusOK).JSON(t, &ok)
	if !ok.OK {
		t.Fatalf("verify %+v", ok)
	}
}
