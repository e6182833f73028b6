package main

import (
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The bench's check of a grid page is json.Valid's verdict (and the page's shape) on
// every page, although it runs json.Valid only on bodies it has not seen before: a
// malformed body is refused however often it comes, after a well-formed one or not.
func TestGridPageCheckIsJSONValidsOnEveryPage(t *testing.T) {
	t.Parallel()
	const page = `{"items":[{"id":"x","permissions":{"reveal":true}}],"next_cursor":null}`
	bodies := map[string]string{
		"page":      page,
		"malformed": `{"items":[{"id":"x","permissions":{"reveal":true}}],"next_cursor":nul}`,
		"truncated": page[:len(page)-1],
		"not rows":  `{"items":[],"next_cursor":null}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(bodies[r.URL.Query().Get("q")]))
	}))
	t.Cleanup(srv.Close)
	b := &benchRun{srv: &benchServer{baseURL: srv.URL}, http: srv.Client(), pageSeed: maphash.MakeSeed()}
	for _, q := range []string{"malformed", "page", "page", "malformed", "truncated", "not rows", "page", "truncated"} {
		err := b.gridPage(t.Context(), map[string][]string{"q": {q}})
		if (err == nil) != (q == "page") {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
