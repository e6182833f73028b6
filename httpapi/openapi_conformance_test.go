package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
)

// conformance checks real responses against the served OpenAPI document: the status is
// documented for the operation, the content type is one the document lists for it, and
// the body matches the schema. Object schemas are made closed (no undocumented field)
// for the check, so a field the server sends but the document does not describe is a
// mismatch too: the TypeScript types are generated from the document, and a field it
// leaves out is a field the UI cannot see.
type conformance struct {
	tb         testing.TB
	doc        *openapi3.T
	router     routers.Router
	mismatches []string
	// covered holds the operations (method and path template) that got a response.
	covered map[string]bool
}

func newConformance(tb testing.TB, env *apitest.Env) *conformance {
	tb.Helper()
	r := env.Anonymous().DoURL(tb, "GET", "/api/openapi.json", nil).Expect(tb, http.StatusOK)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.Body)
	if err != nil {
		tb.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	closeObjects(doc)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatalf("openapi router: %v", err)
	}
	return &conformance{tb: tb, doc: doc, router: router, covered: map[string]bool{}}
}

// closeObjects sets additionalProperties: false on every response object schema that
// lists its properties and says nothing about others.
func closeObjects(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			closed := false
			s.AdditionalProperties.Has = &closed
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		for _, group := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf, s.AllOf} {
			for _, sub := range group {
				walk(sub)
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
}

// route finds the document's operation for a request to path (under /api/v1).
func (c *conformance) route(method, path string) (*routers.Route, map[string]string, *http.Request, bool) {
	req := httptest.NewRequest(method, "http://keyledger.test/api/v1"+path, nil)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.fail("%s %s: no operation in openapi.json: %v", method, path, err)
		return nil, nil, nil, false
	}
	c.covered[strings.ToLower(method)+" "+route.Path] = true
	return route, params, req, true
}

func (c *conformance) fail(format string, args ...any) {
	c.mismatches = append(c.mismatches, fmt.Sprintf(format, args...))
}

// streamed are the media types whose bodies are not one JSON document; check validates
// them itself (each line or event), not through openapi3filter.
var streamed = []string{"text/csv", "application/x-ndjson", "text/event-stream"}

// check validates one response to method path.
func (c *conformance) check(method, path string, r *apitest.Response) *apitest.Response {
	c.tb.Helper()
	route, params, req, ok := c.route(method, path)
	if !ok {
		return r
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	// One line per mismatch: where in the body, and why; not the whole schema.
	opts.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string {
		return "/" + strings.Join(err.JSONPointer(), "/") + ": " + err.Reason
	})
	if slices.Contains(streamed, mt) {
		opts.ExcludeResponseBody = true
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status, Header: r.Header, Body: io.NopCloser(bytes.NewReader(r.Body)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.fail("%s %s → %d %s: %v\n    body: %.300s", method, route.Path, r.Status, mt, err, r.Body)
		return r
	}
	if opts.ExcludeResponseBody {
		c.checkStreamed(method, route, r.Status, mt, r.Body)
	}
	return r
}

// checkStreamed checks a CSV, JSON Lines or event-stream body: the media type is
// documented for the status, and each JSON line or event's data matches its schema.
func (c *conformance) checkStreamed(method string, route *routers.Route, status int, mt string, body []byte) {
	resp := route.Operation.Responses.Status(status)
	if resp == nil || resp.Value == nil {
		c.fail("%s %s → %d: status not documented", method, route.Path, status)
		return
	}
	media := resp.Value.Content.Get(mt)
	if media == nil {
		c.fail("%s %s → %d: content type %s not documented", method, route.Path, status, mt)
		return
	}
	var docs [][]byte
	switch mt {
	case "application/x-ndjson":
		for line := range bytes.SplitSeq(bytes.TrimSpace(body), []byte("\n")) {
			if len(line) > 0 {
				docs = append(docs, line)
			}
		}
	case "text/event-stream":
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				docs = append(docs, []byte(data))
			}
		}
	}
	for _, d := range docs {
		var v any
		if err := json.Unmarshal(d, &v); err != nil {
			c.fail("%s %s → %s: not JSON: %s", method, route.Path, mt, d)
			continue
		}
		if media.Schema == nil || media.Schema.Value == nil {
			c.fail("%s %s → %s: no schema for its items", method, route.Path, mt)
			return
		}
		if err := media.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors(), openapi3.SetSchemaErrorMessageCustomizer(func(err *openapi3.SchemaError) string {
			return "/" + strings.Join(err.JSONPointer(), "/") + ": " + err.Reason
		})); err != nil {
			c.fail("%s %s → %s item %s: %v", method, route.Path, mt, d, err)
		}
	}
}

// report fails the test with every mismatch, and with every documented operation that
// no request reached (a route the scenario forgot is a route left unchecked).
func (c *conformance) report(t *testing.T) {
	t.Helper()
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			if !c.covered[strings.ToLower(method)+" "+path] {
				c.fail("%s %s: documented but not exercised by this test", method, path)
			}
		}
	}
	slices.Sort(c.mismatches)
	if len(c.mismatches) > 0 {
		t.Errorf("%d responses do not match openapi.json:\n  %s", len(c.mismatches), strings.Join(c.mismatches, "\n  "))
	}
}

// TestResponsesMatchOpenAPI drives every route of the API over HTTP (success and the
// usual refusals) and validates each response against the served document.
func TestResponsesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	// Webhook receivers in tests are on loopback.
	env := apitest.New(t, func(cfg *httpapi.Config) { cfg.WebhookAllowPrivate = true })
	env.StartWebhooks(t, 0)
	c := newConformance(t, env)
	do := func(cl *apitest.Client, method, path string, body any, headers ...string) *apitest.Response {
		t.Helper()
		return c.check(method, path, cl.Do(t, method, path, body, headers...))
	}
	anon := env.Anonymous()

	// Authentication.
	do(anon, "POST", "/auth/signup", map[string]any{"email": "alice@example.com", "password": apitest.Password, "name": "Alice"}).Expect(t, http.StatusCreated)
	do(anon, "POST", "/auth/signup", map[string]any{"email": "alice@example.com", "password": apitest.Password, "name": "Alice"}).Expect(t, http.StatusConflict)
	do(anon, "POST", "/auth/signup", map[string]any{"email": "short@example.com", "password": "short", "name": "S"}).Expect(t, http.StatusUnprocessableEntity)
	do(anon, "POST", "/auth/signup", "{not json").Expect(t, http.StatusBadRequest)
	do(anon, "POST", "/auth/signup", map[string]any{"email": "x@example.com", "nope": 1}).Expect(t, http.StatusBadRequest)
	do(anon, "POST", "/auth/signup", "{}", "Content-Type", "text/plain").Expect(t, http.StatusUnsupportedMediaType)
	do(anon, "POST", "/auth/login", map[string]any{"email": "alice@example.com", "password": "wrong password"}).Expect(t, http.StatusUnauthorized)
	var login struct {
		User  apitest.User `json:"user"`
		Token string       `json:"token"`
	}
	do(anon, "POST", "/auth/login", map[string]any{"email": "alice@example.com", "password": apitest.Password}).Expect(t, http.StatusOK).JSON(t, &login)
	alice := env.Anonymous()
	alice.Token = login.Token
	do(env.Anonymous(), "GET", "/me", nil).Expect(t, http.StatusUnauthorized)
	do(alice, "GET", "/me", nil).Expect(t, http.StatusOK)
	var pat struct {
		ID string `json:"id"`
	}
	do(alice, "POST", "/auth/tokens", map[string]any{"name": "laptop", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}).Expect(t, http.StatusCreated).JSON(t, &pat)
	do(alice, "POST", "/auth/tokens", map[string]any{"name": "ci"}).Expect(t, http.StatusCreated)
	do(alice, "GET", "/auth/tokens", nil).Expect(t, http.StatusOK)
	do(alice, "DELETE", "/auth/tokens/"+pat.ID, nil).Expect(t, http.StatusNoContent)
	root := env.CreateUser(t, "root@example.com", "Root", true)
	do(root, "POST", "/admin/users", map[string]any{"email": "carol@example.com", "password": apitest.Password, "name": "Carol", "superadmin": false}).Expect(t, http.StatusCreated)
	do(alice, "POST", "/admin/users", map[string]any{"email": "dave@example.com", "password": apitest.Password, "name": "Dave"}).Expect(t, http.StatusForbidden)

	// Organizations and members.
	var org apitest.Org
	do(alice, "POST", "/orgs", map[string]any{"name": "Acme"}).Expect(t, http.StatusCreated).JSON(t, &org)
	o := "/orgs/" + org.ID
	do(alice, "POST", "/orgs", map[string]any{"name": ""}).Expect(t, http.StatusUnprocessableEntity)
	do(alice, "GET", "/orgs", nil).Expect(t, http.StatusOK)
	do(alice, "GET", o, nil).Expect(t, http.StatusOK)
	do(alice, "GET", "/orgs/00000000-0000-0000-0000-000000000000", nil).Expect(t, http.StatusNotFound)
	do(alice, "PATCH", o, map[string]any{"name": "Acme Inc"}).Expect(t, http.StatusOK)
	do(alice, "GET", o+"/environments", nil).Expect(t, http.StatusOK)
	bob := env.SignUp(t, "bob@example.com", "Bob")
	var member struct {
		UserID string `json:"user_id"`
	}
	do(alice, "POST", o+"/members", map[string]any{"email": "bob@example.com", "role": "viewer"}).Expect(t, http.StatusCreated).JSON(t, &member)
	do(alice, "POST", o+"/members", map[string]any{"email": "nobody@example.com", "role": "viewer"}).Expect(t, http.StatusUnprocessableEntity)
	do(alice, "PATCH", o+"/members/"+member.UserID, map[string]any{"role": "editor"}).Expect(t, http.StatusOK)
	do(alice, "PATCH", o+"/members/"+login.User.ID, map[string]any{"role": "admin"}).Expect(t, http.StatusConflict)
	do(alice, "GET", o+"/members", nil).Expect(t, http.StatusOK)
	do(bob, "GET", o+"/members", nil).Expect(t, http.StatusForbidden)

	// Data keys.
	do(alice, "POST", o+"/keys/rotate", nil).Expect(t, http.StatusOK)
	do(bob, "POST", o+"/keys/rotate", nil).Expect(t, http.StatusForbidden)
	do(alice, "GET", o+"/keys", nil).Expect(t, http.StatusOK)
	do(bob, "GET", o+"/keys", nil).Expect(t, http.StatusForbidden)
	do(alice, "GET", "/orgs/00000000-0000-0000-0000-000000000000/keys", nil).Expect(t, http.StatusNotFound)

	// Secrets.
	var sec apitest.Secret
	do(alice, "POST", o+"/secrets", map[string]any{"name": "stripe_key", "description": "Stripe",
		"values": map[string]string{"production": strings.Repeat("p", 40), "development": "dev-value"}}).Expect(t, http.StatusCreated).JSON(t, &sec)
	s := o + "/secrets/" + sec.ID
	do(alice, "POST", o+"/secrets", map[string]any{"name": "STRIPE_KEY"}).Expect(t, http.StatusConflict)
	do(alice, "POST", o+"/secrets", map[string]any{"name": "not a name"}).Expect(t, http.StatusUnprocessableEntity)
	do(alice, "POST", o+"/secrets", map[string]any{"name": "OTHER"}).Expect(t, http.StatusCreated)
	do(alice, "GET", o+"/secrets", nil, "Accept", "application/json").Expect(t, http.StatusOK)
	do(alice, "GET", o+"/secrets?limit=1", nil).Expect(t, http.StatusOK)
	do(alice, "GET", o+"/secrets?cursor=bogus", nil).Expect(t, http.StatusBadRequest)
	do(alice, "GET", o+"/secrets?as_of="+time.Now().Add(time.Second).UTC().Format(time.RFC3339), nil).Expect(t, http.StatusOK)
	do(alice, "GET", s, nil).Expect(t, http.StatusOK)
	do(bob, "PATCH", s, map[string]any{"description": "mine now"}).Expect(t, http.StatusForbidden)
	do(alice, "PATCH", s, map[string]any{"description": "Stripe live", "values": map[string]any{"staging": "stage-value", "development": nil}}).Expect(t, http.StatusOK)
	do(alice, "PATCH", s, map[string]any{"description": "stale", "expected_version": 1}).Expect(t, http.StatusConflict)
	do(alice, "PATCH", s, map[string]any{"values": map[string]any{"production": strings.Repeat("x", 70<<10)}}).Expect(t, http.StatusRequestEntityTooLarge)
	do(alice, "POST", s+"/reveal", map[string]any{"env": "production"}).Expect(t, http.StatusOK)
	do(alice, "POST", s+"/reveal", map[string]any{"env": "development"}).Expect(t, http.StatusNotFound)
	do(alice, "GET", s+"/versions", nil).Expect(t, http.StatusOK)
	do(alice, "GET", s+"/versions?env=nowhere", nil).Expect(t, http.StatusBadRequest)
	do(alice, "POST", s+"/rollback", map[string]any{"env": "development", "version": 1}).Expect(t, http.StatusOK)
	do(alice, "DELETE", s+"?env=staging", nil).Expect(t, http.StatusNoContent)

	// Audit trail.
	do(alice, "GET", o+"/audit", nil).Expect(t, http.StatusOK)
	do(alice, "GET", o+"/audit?limit=1", nil).Expect(t, http.StatusOK)
	do(bob, "GET", o+"/audit", nil).Expect(t, http.StatusForbidden)
	do(alice, "GET", o+"/audit/export?format=csv", nil).Expect(t, http.StatusOK)
	do(alice, "GET", o+"/audit/export?format=jsonl", nil).Expect(t, http.StatusOK)
	do(alice, "GET", o+"/audit/export?format=xml", nil).Expect(t, http.StatusBadRequest)
	do(alice, "GET", o+"/audit/verify", nil).Expect(t, http.StatusOK)

	// Integrations.
	var st struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	do(alice, "POST", o+"/service-tokens", map[string]any{"name": "deploy", "environments": []string{"production"}}).Expect(t, http.StatusCreated).JSON(t, &st)
	do(alice, "GET", o+"/service-tokens", nil).Expect(t, http.StatusOK)
	do(alice, "GET", o+"/access?secret_id="+sec.ID, nil).Expect(t, http.StatusOK)
	do(alice, "GET", o+"/access?secret_id="+sec.ID+"&at=yesterday", nil).Expect(t, http.StatusBadRequest)
	do(alice, "GET", o+"/access?secret_id=00000000-0000-0000-0000-000000000000", nil).Expect(t, http.StatusNotFound)
	do(bob, "GET", o+"/access?secret_id="+sec.ID, nil).Expect(t, http.StatusForbidden)
	svc := env.Anonymous()
	svc.Token = st.Token
	do(svc, "GET", o+"/environments/production/values", nil).Expect(t, http.StatusOK)
	do(svc, "GET", "/me", nil).Expect(t, http.StatusOK)
	do(svc, "GET", o+"/environments/development/values", nil).Expect(t, http.StatusForbidden)
	do(alice, "GET", o+"/environments/production/values", nil).Expect(t, http.StatusOK)
	do(alice, "DELETE", o+"/service-tokens/"+st.ID, nil).Expect(t, http.StatusNoContent)
	do(svc, "GET", o+"/environments/production/values", nil).Expect(t, http.StatusUnauthorized)
	c.changeFeed(t, env, alice, o)
	do(env.Anonymous(), "GET", o+"/changes", nil).Expect(t, http.StatusUnauthorized)
	c.webhooks(t, alice, bob, o, do)

	// Removals last: they change what the requests above could see.
	do(alice, "DELETE", s, nil).Expect(t, http.StatusNoContent)
	do(alice, "GET", s, nil).Expect(t, http.StatusNotFound)
	do(alice, "DELETE", o+"/members/"+member.UserID, nil).Expect(t, http.StatusNoContent)
	// Erasure, after everything else: the organization answers nothing afterwards.
	do(root, "GET", "/admin/audit", nil).Expect(t, http.StatusOK)
	do(alice, "GET", "/admin/audit", nil).Expect(t, http.StatusForbidden)
	do(alice, "DELETE", o, map[string]any{"confirm": "Acme"}).Expect(t, http.StatusUnprocessableEntity)
	do(alice, "DELETE", o, map[string]any{"confirm": "Acme Inc"}).Expect(t, http.StatusNoContent)
	do(alice, "DELETE", o, map[string]any{"confirm": "Acme Inc"}).Expect(t, http.StatusNotFound)
	do(root, "GET", "/admin/audit", nil).Expect(t, http.StatusOK)
	do(alice, "POST", "/auth/logout", nil).Expect(t, http.StatusNoContent)
	c.report(t)
}

// changeFeed reads the organization's change feed from its start until the first
// notice, and checks the stream like any other response.
func (c *conformance) changeFeed(t *testing.T, env *apitest.Env, cl *apitest.Client, orgPath string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", env.BaseURL+"/api/v1"+orgPath+"/changes", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cl.Token)
	req.Header.Set("Last-Event-ID", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		body.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "data: ") {
			break
		}
	}
	cancel()
	c.check("GET", orgPath+"/changes", &apitest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body.Bytes()})
	if !strings.Contains(body.String(), "data: ") {
		t.Errorf("the change feed sent no notice: %s", body.String())
	}
}

// webhooks drives the webhook routes: a receiver on loopback gets a delivery, which is
// listed and redelivered; then the webhook is removed.
func (c *conformance) webhooks(t *testing.T, alice, bob *apitest.Client, o string, do func(*apitest.Client, string, string, any, ...string) *apitest.Response) {
	t.Helper()
	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer receiver.Close()
	var hook struct {
		ID string `json:"id"`
	}
	do(alice, "POST", o+"/webhooks", map[string]any{"url": receiver.URL, "environments": []string{"production"}, "description": "deploys"}).
		Expect(t, http.StatusCreated).JSON(t, &hook)
	h := o + "/webhooks/" + hook.ID
	do(alice, "POST", o+"/webhooks", map[string]any{"url": "ftp://example.com/"}).Expect(t, http.StatusUnprocessableEntity)
	do(bob, "POST", o+"/webhooks", map[string]any{"url": receiver.URL}).Expect(t, http.StatusForbidden)
	do(alice, "GET", o+"/webhooks", nil).Expect(t, http.StatusOK)
	do(bob, "GET", o+"/webhooks", nil).Expect(t, http.StatusForbidden)
	do(alice, "PATCH", o+"/secrets/"+alice.CreateSecret(t, strings.TrimPrefix(o, "/orgs/"), "HOOKED", map[string]string{"production": "v1"}).ID,
		map[string]any{"values": map[string]string{"production": "v2"}}).Expect(t, http.StatusOK)
	var list struct {
		Items []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"items"`
	}
	deadline := time.Now().Add(time.Minute)
	for len(list.Items) < 2 || list.Items[0].Status != "delivered" {
		if time.Now().After(deadline) {
			t.Fatalf("no delivery listed: %+v", list)
		}
		time.Sleep(20 * time.Millisecond)
		do(alice, "GET", h+"/deliveries", nil).Expect(t, http.StatusOK).JSON(t, &list)
	}
	do(alice, "GET", h+"/deliveries?limit=0", nil).Expect(t, http.StatusBadRequest)
	do(bob, "GET", h+"/deliveries", nil).Expect(t, http.StatusForbidden)
	do(alice, "GET", o+"/webhooks/00000000-0000-4000-8000-000000000000/deliveries", nil).Expect(t, http.StatusNotFound)
	do(alice, "POST", h+"/deliveries/"+list.Items[0].ID+"/redeliver", nil).Expect(t, http.StatusAccepted)
	do(alice, "POST", h+"/deliveries/00000000-0000-4000-8000-000000000000/redeliver", nil).Expect(t, http.StatusNotFound)
	do(alice, "DELETE", h, nil).Expect(t, http.StatusNoContent)
	do(alice, "DELETE", h, nil).Expect(t, http.StatusNotFound)
}
