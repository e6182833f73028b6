package httpapi_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

type page struct {
	Items      []apitest.Secret `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

func names(p page) []string {
	out := []string{}
	for _, s := range p.Items {
		out = append(out, s.Name)
	}
	return out
}

func TestSecretRowsMasksAndVersions(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	long := "sk_live_" + strings.Repeat("x", 24) + "RgA1" // 36 code points
	mid := "ab€d" + strings.Repeat("y", 12) + "zé"        // 18 code points
	short := "hunter2hunter2hun"                          // 17 code points
	s := alice.CreateSecret(t, org.ID, "  stripe_secret_key ", map[string]string{"production": long, "staging": mid, "development": short})
	if s.Name != "STRIPE_SECRET_KEY" || s.Version != 1 || s.Owner.ID != alice.UserID || s.Owner.Email != alice.Email {
		t.Fatalf("row %+v", s)
	}
	for env, mask := range map[string]string{"production": "sk_live_***RgA1", "staging": "ab€d***zé", "development": "***"} {
		st := s.Environments[env]
		if !st.Set || st.Version != 1 || st.Mask != mask || st.UpdatedAt == "" {
			t.Fatalf("%s: %+v, want mask %q", env, st, mask)
		}
	}
	base := "/orgs/" + org.ID + "/secrets/" + s.ID
	r := alice.Do(t, "GET", base, nil).Expect(t, http.StatusOK)
	for _, v := range []string{long, mid, short} {
		if strings.Contains(string(r.Body), v) {
			t.Fatal("a row contains a value")
		}
	}
	if strings.Contains(string(r.Body), "sealed") {
		t.Fatal("a row mentions a sealed value")
	}

	// Change production, remove staging, keep development (same value): version +1,
	// production 2, staging unset, development still 1.
	var row apitest.Secret
	r = alice.Do(t, "PATCH", base, map[string]any{"values": map[string]any{"production": long + "2", "staging": nil, "development": short}})
	r.Expect(t, http.StatusOK).JSON(t, &row)
	if r.Header.Get("X-Keyledger-Seq") == "" {
		t.Fatal("no X-Keyledger-Seq on PATCH")
	}
	if row.Version != 2 || row.Environments["production"].Version != 2 || row.Environments["staging"].Set ||
		row.Environments["development"].Version != 1 {
		t.Fatalf("after patch %+v", row)
	}
	if st := row.Environments["staging"]; st.Version != 0 || st.Mask != "" {
		t.Fatalf("unset environment shows %+v", st)
	}
	// Setting staging again keeps counting: version 2.
	alice.Do(t, "PATCH", base, map[string]any{"values": map[string]any{"staging": "again-a-value"}}).Expect(t, http.StatusOK).JSON(t, &row)
	if row.Version != 3 || row.Environments["staging"].Version != 2 {
		t.Fatalf("staging set again %+v", row)
	}
	// An unchanged value is not a new version.
	alice.Do(t, "PATCH", base, map[string]any{"values": map[string]any{"staging": "again-a-value"}}).Expect(t, http.StatusOK).JSON(t, &row)
	if row.Version != 3 || row.Environments["staging"].Version != 2 {
		t.Fatalf("unchanged value bumped %+v", row)
	}
	// Description only; values absent stay.
	alice.Do(t, "PATCH", base, map[string]any{"description": "Stripe", "expected_version": 3}).Expect(t, http.StatusOK).JSON(t, &row)
	if row.Version != 4 || row.Description != "Stripe" || !row.Environments["production"].Set {
		t.Fatalf("description change %+v", row)
	}
	// Stale expected_version.
	alice.Do(t, "PATCH", base, map[string]any{"description": "stale", "expected_version": 3}).Problem(t, http.StatusConflict, "version_conflict")

	t.Run("reveal", func(t *testing.T) {
		r := alice.Do(t, "POST", base+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK)
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Keyledger-Seq") == "" {
			t.Fatalf("headers %v", r.Header)
		}
		var rev struct {
			Value   string `json:"value"`
			Env     string `json:"env"`
			Version int    `json:"version"`
			Hide    int    `json:"hide_after_seconds"`
		}
		r.JSON(t, &rev)
		if rev.Value != long+"2" || rev.Env != "production" || rev.Version != 2 || rev.Hide != 30 {
			t.Fatalf("reveal %+v", rev)
		}
		alice.Do(t, "POST", base+"/reveal", map[string]any{"env": "nowhere"}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
		alice.Do(t, "DELETE", base+"?env=staging", nil).Expect(t, http.StatusNoContent)
		alice.Do(t, "POST", base+"/reveal", map[string]any{"env": "staging"}).Problem(t, http.StatusNotFound, "not_found")
	})

	t.Run("versions and rollback", func(t *testing.T) {
		var vs struct {
			Items []struct {
				Env     string `json:"env"`
				Version int    `json:"version"`
				Action  string `json:"action"`
				Actor   struct{ ID, Email string }
				Mask    string `json:"mask"`
			} `json:"items"`
		}
		alice.Do(t, "GET", base+"/versions?env=production", nil).Expect(t, http.StatusOK).JSON(t, &vs)
		if len(vs.Items) != 2 || vs.Items[0].Version != 2 || vs.Items[1].Action != "created" || vs.Items[0].Actor.Email != alice.Email {
			t.Fatalf("versions %+v", vs)
		}
		var row apitest.Secret
		alice.Do(t, "POST", base+"/rollback", map[string]any{"env": "production", "version": 1}).Expect(t, http.StatusOK).JSON(t, &row)
		if row.Environments["production"].Version != 3 || row.Environments["production"].Mask != "sk_live_***RgA1" {
			t.Fatalf("rolled back %+v", row.Environments["production"])
		}
		alice.Do(t, "POST", base+"/rollback", map[string]any{"env": "production", "version": 9}).Problem(t, http.StatusNotFound, "not_found")
	})
}

func TestSecretNamesAndDeletion(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	base := "/orgs/" + org.ID + "/secrets"
	s := alice.CreateSecret(t, org.ID, "DATABASE_URL", map[string]string{"production": "postgres://prod", "staging": "postgres://staging"})

	p := alice.Do(t, "POST", base, map[string]any{"name": "database_url"}).Problem(t, http.StatusConflict, "secret_name_taken")
	if p.Detail != `A secret named "DATABASE_URL" already exists in this organization.` {
		t.Fatalf("detail %q", p.Detail)
	}
	// Another org may use the name.
	other := alice.CreateOrg(t, "Other")
	alice.CreateSecret(t, other.ID, "DATABASE_URL", nil)

	for _, bad := range []string{"", "1ABC", "WITH-DASH", "sp ace", strings.Repeat("A", 129)} {
		p := alice.Do(t, "POST", base, map[string]any{"name": bad}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
		if len(p.Errors) != 1 || p.Errors[0].Field != "name" {
			t.Fatalf("%q: errors %+v", bad, p.Errors)
		}
	}
	alice.Do(t, "POST", base, map[string]any{"name": "LONG_DESC", "description": strings.Repeat("d", 1001)}).
		Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	p = alice.Do(t, "POST", base, map[string]any{"name": "EMPTY", "values": map[string]any{"staging": ""}}).
		Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	if len(p.Errors) != 1 || p.Errors[0].Field != "values.staging" {
		t.Fatalf("errors %+v", p.Errors)
	}

	// Delete one environment, then the whole secret; the name is free again.
	alice.Do(t, "DELETE", base+"/"+s.ID+"?env=production", nil).Expect(t, http.StatusNoContent)
	var row apitest.Secret
	alice.Do(t, "GET", base+"/"+s.ID, nil).Expect(t, http.StatusOK).JSON(t, &row)
	if row.Environments["production"].Set || !row.Environments["staging"].Set || row.Version != 2 {
		t.Fatalf("after env delete %+v", row)
	}
	alice.Do(t, "DELETE", base+"/"+s.ID+"?env=production", nil).Problem(t, http.StatusNotFound, "not_found")
	alice.Do(t, "DELETE", base+"/"+s.ID+"?env=prod", nil).Problem(t, http.StatusBadRequest, "invalid_request")
	alice.Do(t, "DELETE", base+"/"+s.ID, nil).Expect(t, http.StatusNoContent)
	alice.Do(t, "GET", base+"/"+s.ID, nil).Problem(t, http.StatusNotFound, "not_found")
	alice.Do(t, "DELETE", base+"/"+s.ID, nil).Problem(t, http.StatusNotFound, "not_found")
	again := alice.CreateSecret(t, org.ID, "DATABASE_URL", nil)
	if again.ID == s.ID || again.Version != 1 {
		t.Fatalf("recreated %+v", again)
	}
}

func TestListSecrets(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	base := "/orgs/" + org.ID + "/secrets"
	for _, n := range []string{"ZETA", "ALPHA_KEY", "A_B", "AXB", "MIDDLE_KEY"} {
		values := map[string]string{"development": "dev-" + n}
		if strings.HasSuffix(n, "_KEY") {
			values["production"] = "prod-" + n
		}
		alice.CreateSecret(t, org.ID, n, values)
	}
	var all page
	alice.Do(t, "GET", base, nil).Expect(t, http.StatusOK).JSON(t, &all)
	if got := strings.Join(names(all), ","); got != "ALPHA_KEY,AXB,A_B,MIDDLE_KEY,ZETA" || all.NextCursor != nil {
		t.Fatalf("all: %s (next %v)", got, all.NextCursor)
	}
	var prod page
	alice.Do(t, "GET", base+"?env=production", nil).Expect(t, http.StatusOK).JSON(t, &prod)
	if got := strings.Join(names(prod), ","); got != "ALPHA_KEY,MIDDLE_KEY" {
		t.Fatalf("env=production: %s", got)
	}
	for q, want := range map[string]string{"key": "ALPHA_KEY,MIDDLE_KEY", "a_b": "A_B", "_": "ALPHA_KEY,A_B,MIDDLE_KEY", "%": "", "x": "AXB"} {
		var got page
		alice.Do(t, "GET", base+"?q="+url.QueryEscape(q), nil).Expect(t, http.StatusOK).JSON(t, &got)
		if g := strings.Join(names(got), ","); g != want {
			t.Fatalf("q=%q: %s, want %s", q, g, want)
		}
	}
	// Paging with limit and cursor walks the same order.
	var walked []string
	cursor := ""
	for range 10 {
		var pg page
		path := base + "?limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		alice.Do(t, "GET", path, nil).Expect(t, http.StatusOK).JSON(t, &pg)
		walked = append(walked, names(pg)...)
		if pg.NextCursor == nil {
			break
		}
		cursor = *pg.NextCursor
	}
	if got := strings.Join(walked, ","); got != "ALPHA_KEY,AXB,A_B,MIDDLE_KEY,ZETA" {
		t.Fatalf("paged: %s", got)
	}
	for _, bad := range []string{"?env=prod", "?limit=0", "?limit=1001", "?limit=ten", "?cursor=%25%25%25", "?as_of=yesterday", "?min_seq=-1"} {
		alice.Do(t, "GET", base+bad, nil).Problem(t, http.StatusBadRequest, "invalid_request")
	}
	alice.Do(t, "GET", base+"?limit=1000", nil).Expect(t, http.StatusOK)
}

func TestMinSeqWaitsForTheProjection(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	r := alice.Do(t, "POST", "/orgs/"+org.ID+"/secrets", map[string]any{"name": "SEQ"}).Expect(t, http.StatusCreated)
	seq, err := strconv.ParseUint(r.Header.Get("X-Keyledger-Seq"), 10, 64)
	if err != nil || seq == 0 {
		t.Fatalf("X-Keyledger-Seq %q", r.Header.Get("X-Keyledger-Seq"))
	}
	var pg page
	alice.Do(t, "GET", "/orgs/"+org.ID+"/secrets?min_seq="+strconv.FormatUint(seq, 10), nil).Expect(t, http.StatusOK).JSON(t, &pg)
	if len(pg.Items) != 1 {
		t.Fatalf("items %v", names(pg))
	}
}

func TestValueLimits(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	base := "/orgs/" + org.ID + "/secrets"
	max := strings.Repeat("v", 64*1024)
	s := alice.CreateSecret(t, org.ID, "BIG", map[string]string{"production": max})
	if s.Environments["production"].Mask != "vvvvvvvv***vvvv" {
		t.Fatalf("mask %q", s.Environments["production"].Mask)
	}
	alice.Do(t, "POST", base, map[string]any{"name": "TOO_BIG", "values": map[string]any{"production": max + "v"}}).
		Problem(t, http.StatusRequestEntityTooLarge, "too_large")
	alice.Do(t, "PATCH", base+"/"+s.ID, map[string]any{"values": map[string]any{"staging": max + "v"}}).
		Problem(t, http.StatusRequestEntityTooLarge, "too_large")
	huge := `{"name":"HUGE","description":"` + strings.Repeat("d", 1<<20) + `"}`
	r := alice.Do(t, "POST", base, huge)
	r.Problem(t, http.StatusRequestEntityTooLarge, "too_large")
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("413 without the security headers: %v", r.Header)
	}
	var pg page
	alice.Do(t, "GET", base, nil).Expect(t, http.StatusOK).JSON(t, &pg)
	if len(pg.Items) != 1 {
		t.Fatalf("refused secrets were created: %v", names(pg))
	}
}

func TestStrictJSON(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "KEY", map[string]string{"development": "dev-value"})
	secrets := "/orgs/" + org.ID + "/secrets"
	for _, tc := range []struct {
		name, method, path string
		body               string
		code               string
	}{
		{"not json", "POST", secrets, `name=KEY`, "invalid_json"},
		{"truncated", "POST", secrets, `{"name": "KEY"`, "invalid_json"},
		{"empty", "POST", secrets, ``, "invalid_json"},
		{"trailing garbage", "POST", secrets, `{"name": "A"} {"name": "B"}`, "invalid_json"},
		{"unknown field", "POST", secrets, `{"name": "A", "owner": "me"}`, "invalid_request"},
		{"field case differs", "POST", secrets, `{"NAME": "A"}`, "invalid_request"},
		{"unknown environment", "POST", secrets, `{"name": "A", "values": {"prod": "x"}}`, "invalid_request"},
		{"wrong type", "POST", secrets, `{"name": 42}`, "invalid_request"},
		{"values not an object", "POST", secrets, `{"name": "A", "values": "x"}`, "invalid_request"},
		{"array body", "POST", secrets, `[{"name": "A"}]`, "invalid_request"},
		{"patch unknown env", "PATCH", secrets + "/" + s.ID, `{"values": {"qa": "x"}}`, "invalid_request"},
		{"patch value not a string", "PATCH", secrets + "/" + s.ID, `{"values": {"staging": 5}}`, "invalid_request"},
		{"patch expected_version float", "PATCH", secrets + "/" + s.ID, `{"expected_version": 1.5}`, "invalid_request"},
		{"org unknown field", "POST", "/orgs", `{"name": "X", "plan": "pro"}`, "invalid_request"},
		{"login wrong type", "POST", "/auth/login", `{"email": ["a"], "password": "x"}`, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := alice.Do(t, tc.method, tc.path, tc.body)
			if tc.code == "invalid_json" {
				r.Problem(t, http.StatusBadRequest, "invalid_json")
			} else {
				r.Problem(t, http.StatusBadRequest, "invalid_request")
			}
		})
	}
	// Nothing above changed the secret or created one.
	var pg page
	alice.Do(t, "GET", secrets, nil).Expect(t, http.StatusOK).JSON(t, &pg)
	if len(pg.Items) != 1 || pg.Items[0].Version != 1 {
		t.Fatalf("state changed: %+v", pg.Items)
	}
}
