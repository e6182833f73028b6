package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The bench's check of a grid page is json.Valid's verdict (and the page's shape) on
// every page, although it runs json.Valid only on bodies it has not seen before: a
// malformed body is refused however often it comes, after a well-formed one or not.
// A page must also be a 200: another 2xx is an error by its status.
func TestGridPageCheckIsJSONValidsOnEveryPage(t *testing.T) {
	t.Parallel()
	const page = `{"items":[{"id":"x","permissions":{"reveal":true}}],"next_cursor":null}`
	bodies := map[string]string{
		"page":      page,
		"malformed": `{"items":[{"id":"x","permissions":{"reveal":true}}],"next_cursor":nul}`,
		"truncated": page[:len(page)-1],
		"not rows":  `{"items":[],"next_cursor":null}`,
		"accepted":  page,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("q")
		if q == "accepted" {
			w.WriteHeader(http.StatusAccepted)
		}
		_, _ = w.Write([]byte(bodies[q]))
	}))
	t.Cleanup(srv.Close)
	b, w := newTestBench(t, srv.URL)
	for _, q := range []string{"malformed", "page", "page", "malformed", "truncated", "not rows", "page", "truncated", "accepted"} {
		err := b.gridPage(t.Context(), w, "?q="+q)
		if (err == nil) != (q == "page") {
			t.Fatalf("%s: %v", q, err)
		}
		if q == "accepted" && errorKind(err) != "202" {
			t.Fatalf("a 202 page: %v (%s)", err, errorKind(err))
		}
	}
}
