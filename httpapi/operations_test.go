package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	anon := env.Anonymous()
	anon.DoURL(t, "GET", "/healthz", nil).Expect(t, http.StatusOK)
	env.SignUp(t, "alice@example.com", "Alice")

	var ready struct {
		Status        string  `json:"status"`
		NATS          string  `json:"nats"`
		Postgres      string  `json:"postgres"`
		StreamSeq     *uint64 `json:"stream_seq"`
		Checkpoint    *uint64 `json:"checkpoint"`
		ProjectionLag *uint64 `json:"projection_lag"`
	}
	anon.DoURL(t, "GET", "/readyz", nil).Expect(t, http.StatusOK).JSON(t, &ready)
	if ready.Status != "ready" || ready.StreamSeq == nil || *ready.StreamSeq == 0 || ready.ProjectionLag == nil ||
		*ready.ProjectionLag != *ready.StreamSeq-*ready.Checkpoint {
		t.Fatalf("readyz %+v", ready)
	}

	env.DB.Close()
	r := anon.DoURL(t, "GET", "/readyz", nil).Expect(t, http.StatusServiceUnavailable)
	r.JSON(t, &ready)
	if ready.Status != "unavailable" || ready.Postgres != "unavailable" || ready.NATS != "ok" {
		t.Fatalf("readyz without postgres %s", r.Body)
	}
	anon.DoURL(t, "GET", "/healthz", nil).Expect(t, http.StatusOK)
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) {
		c.Assets = fstest.MapFS{
			"index.html":       {Data: []byte("<!doctype html><title>Keyledger UI</title>")},
			"assets/app-1.js":  {Data: []byte("console.log(1)")},
			"assets/app-1.css": {Data: []byte("body{}")},
		}
	})
	alice := env.SignUp(t, "alice@example.com", "Alice")
	anon := env.Anonymous()
	responses := map[string]*apitest.Response{
		"api":            alice.Do(t, "GET", "/me", nil),
		"api error":      anon.Do(t, "GET", "/me", nil),
		"api no route":   anon.Do(t, "GET", "/nowhere", nil),
		"api bad method": anon.DoURL(t, "PUT", "/api/openapi.json", nil),
		"openapi":        anon.DoURL(t, "GET", "/api/openapi.json", nil),
		"healthz":        anon.DoURL(t, "GET", "/healthz", nil),
		"ui index":       anon.DoURL(t, "GET", "/", nil),
		"ui route":       anon.DoURL(t, "GET", "/orgs/123/secrets", nil),
		"ui asset":       anon.DoURL(t, "GET", "/assets/app-1.js", nil),
	}
	for name, r := range responses {
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: security headers missing: %v", name, r.Header)
		}
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS without TLS", name)
		}
		if strings.HasPrefix(name, "api") && r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, r.Header.Get("Cache-Control"))
		}
	}
	responses["api no route"].Problem(t, http.StatusNotFound, "not_found")
	if r := responses["api bad method"]; r.Status < 400 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("PUT on openapi.json: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	for _, name := range []string{"ui index", "ui route"} {
		r := responses[name].Expect(t, http.StatusOK)
		if !strings.Contains(string(r.Body), "Keyledger UI") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %s %q", name, r.Body, r.Header.Get("Content-Type"))
		}
	}
	if r := responses["ui asset"].Expect(t, http.StatusOK); string(r.Body) != "console.log(1)" || !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
		t.Errorf("asset %s %q", r.Body, r.Header.Get("Content-Type"))
	}
}

func TestUIPlaceholderWithoutABuild(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.Assets = fstest.MapFS{".gitkeep": {}} })
	r := env.Anonymous().DoURL(t, "GET", "/some/page", nil).Expect(t, http.StatusOK)
	if !strings.Contains(string(r.Body), "make web") {
		t.Fatalf("placeholder %s", r.Body)
	}
}

// TestOpenAPICoversEveryRoute checks that /api/openapi.json is an OpenAPI 3.1 document
// that describes every API route the server registers, and nothing it does not serve.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	r := env.Anonymous().DoURL(t, "GET", "/api/openapi.json", nil).Expect(t, http.StatusOK)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.JSON(t, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	params := strings.NewReplacer(":org", "{org}", ":secret", "{secret}", ":user", "{user_id}", ":id", "{id}", ":env", "{env}", ":delivery", "{delivery}")
	served := map[string]bool{}
	for _, route := range env.Server.GetRoutes(true) {
		if !strings.HasPrefix(route.Path, "/api/v1/") || route.Method == http.MethodHead {
			continue
		}
		p := params.Replace(strings.TrimPrefix(route.Path, "/api/v1"))
		m := strings.ToLower(route.Method)
		served[m+" "+p] = true
		if _, ok := doc.Paths[p][m]; !ok {
			t.Errorf("%s %s is not in openapi.json", route.Method, p)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !served[m+" "+p] {
				t.Errorf("openapi.json describes %s %s, which is not served", m, p)
			}
		}
	}
}
