package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/projections"
)

// TestAmbiguousDeletesChangeNothing: a DELETE whose env is given empty or more than
// once is 400 and deletes nothing. ?env= used to read as no env at all and removed
// the whole secret; ?env=&env=production did the same (the first value counted), where
// a proxy or a log reader takes the last and sees one environment's value removed.
func TestAmbiguousDeletesChangeNothing(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "DB_PASSWORD", map[string]string{"development": "d1", "production": "p1"})
	path := "/orgs/" + org.ID + "/secrets/" + s.ID
	for _, query := range []string{"?env=", "?env=&env=production", "?env=production&env=development", "?env=production&env=production", "?env=%00production"} {
		alice.Do(t, "DELETE", path+query, nil).Problem(t, http.StatusBadRequest, "invalid_request")
		var row struct {
			Environments map[string]struct {
				Set bool `json:"set"`
			} `json:"environments"`
		}
		alice.Do(t, "GET", path, nil).Expect(t, http.StatusOK).JSON(t, &row)
		if !row.Environments["development"].Set || !row.Environments["production"].Set {
			t.Fatalf("DELETE %s changed the secret: %+v", query, row)
		}
	}
	// The unambiguous ones still work.
	alice.Do(t, "DELETE", path+"?env=production", nil).Expect(t, http.StatusNoContent)
	alice.Do(t, "DELETE", path, nil).Expect(t, http.StatusNoContent)
	alice.Do(t, "GET", path, nil).Problem(t, http.StatusNotFound, "not_found")
}

// TestQueryParametersMustBeText: a query value with a NUL, another control character
// or bytes that are not UTF-8, and any parameter given twice, is 400 on every route
// that reads one. actor=%00 reached PostgreSQL, which refused it (500), and the
// export of it answered 200 with no body.
func TestQueryParametersMustBeText(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "p1"})
	base := "/orgs/" + org.ID
	for _, path := range []string{
		base + "/audit?actor=%00",
		base + "/audit?actor=%ff",
		base + "/audit?actor=a%00b",
		base + "/audit?actor=%C3",
		base + "/audit?action=secret.created&action=secret.deleted",
		base + "/audit/export?format=csv&actor=%00",
		base + "/audit/export?format=jsonl&actor=%ff",
		base + "/audit/export?format=csv&format=jsonl",
		base + "/secrets?q=%00",
		base + "/secrets?q=a%0Ab",
		base + "/secrets?limit=10&limit=20",
		base + "/secrets?%ff=1",
	} {
		alice.Do(t, "GET", path, nil).Problem(t, http.StatusBadRequest, "invalid_request")
	}
	// A filter the trail's query refuses is refused before an export starts: an action
	// that is not one answered 200 with an empty body.
	alice.Do(t, "GET", base+"/audit/export?format=csv&action=bogus", nil).Problem(t, http.StatusBadRequest, "invalid_request")
	alice.Do(t, "GET", base+"/audit/export?format=csv&secret_id=abc", nil).Problem(t, http.StatusBadRequest, "invalid_request")
	// Text that is text still reads: an email, and q with a space and an accent.
	alice.Do(t, "GET", base+"/audit?actor=alice%40example.com", nil).Expect(t, http.StatusOK)
	alice.Do(t, "GET", base+"/secrets?q=caf%C3%A9+key", nil).Expect(t, http.StatusOK)
}

// TestTimeBoundsOfYearOne: year 1's first instant is a bound like any other. The
// read models take the zero time for no bound, so to=0001-01-01T00:00:00Z listed
// the whole trail and as_of= of it answered the grid as it is now.
func TestTimeBoundsOfYearOne(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	alice.CreateSecret(t, org.ID, "API_KEY", map[string]string{"production": "p1"})
	var page struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit?to=0001-01-01T00:00:00Z", nil).Expect(t, http.StatusOK).JSON(t, &page)
	if len(page.Items) != 0 {
		t.Errorf("the trail up to year 1 lists %d entries: %+v", len(page.Items), page.Items)
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/audit?from=0001-01-01T00:00:00Z", nil).Expect(t, http.StatusOK).JSON(t, &page)
	if len(page.Items) == 0 {
		t.Error("the trail from year 1 lists nothing")
	}
	// The grid as of year 1 is not the grid of now: as of 1970, the organization did
	// not exist yet.
	want := alice.Do(t, "GET", "/orgs/"+org.ID+"/secrets?as_of=1970-01-01T00:00:00Z", nil)
	got := alice.Do(t, "GET", "/orgs/"+org.ID+"/secrets?as_of=0001-01-01T00:00:00Z", nil)
	if got.Status != want.Status || string(got.Body) != string(want.Body) {
		t.Errorf("as_of year 1: %d %s; as_of 1970: %d %s", got.Status, got.Body, want.Status, want.Body)
	}
	if got.Status == http.StatusOK && strings.Contains(string(got.Body), "API_KEY") {
		t.Errorf("the grid as of year 1 holds a secret made today: %s", got.Body)
	}
}

// failingTrail is an audit trail whose stream breaks after a few entries, as a
// database connection lost part-way would.
type failingTrail struct {
	httpapi.AuditReads
	after int
}

func (f failingTrail) StreamAudit(ctx context.Context, orgID string, filter projections.AuditFilter, fn func(projections.AuditEntry) error) error {
	n := 0
	return f.AuditReads.StreamAudit(ctx, orgID, filter, func(e projections.AuditEntry) error {
		if n++; n > f.after {
			return errors.New("connection to the database lost")
		}
		return fn(e)
	})
}

// TestAnExportThatBreaksDoesNotEndCleanly: an export that fails part-way ends its
// response without the chunked encoding's last chunk, so the client's read fails; it
// used to end cleanly, a 200 with a shorter trail that read as the whole of it.
func TestAnExportThatBreaksDoesNotEndCleanly(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(cfg *httpapi.Config) {
		cfg.ReadModel.Audit = failingTrail{AuditReads: cfg.ReadModel.Audit, after: 2}
	})
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	first := alice.CreateSecret(t, org.ID, "A", map[string]string{"production": "p1"})
	for _, name := range []string{"B", "C", "D"} {
		alice.CreateSecret(t, org.ID, name, map[string]string{"production": "p1"})
	}
	for _, format := range []string{"csv", "jsonl"} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", env.BaseURL+"/api/v1/orgs/"+org.ID+"/audit/export?format="+format, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+alice.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			// Broken before its status line was sent (nothing was flushed yet): a
			// failure the client sees, as it must.
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", format, resp.StatusCode)
		}
		if err == nil {
			t.Errorf("%s: the export that broke after 2 entries ended cleanly, as a whole trail of %d bytes:\n%s", format, len(body), body)
		}
	}
	// An export the failing trail does not break (one entry) ends cleanly.
	body := alice.Do(t, "GET", "/orgs/"+org.ID+"/audit/export?format=jsonl&secret_id="+first.ID, nil).Expect(t, http.StatusOK).Body
	if strings.Count(string(body), "\n") != 1 {
		t.Errorf("the export of one entry: %s", body)
	}
}

// A read that asks for min_seq gets a read at that sequence or an error: one past the
// log's last event is 400, one the read models do not reach within the wait is 503
// with Retry-After. Both answered 200 with what the read models had, as if it were
// the read asked for.
func TestMinSeqIsReachedOrRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *httpapi.Config) { c.WaitTimeout = 200 * time.Millisecond })
	alice := env.SignUp(t, "alice@example.com", "Alice")
	org := alice.CreateOrg(t, "Acme")
	s := alice.CreateSecret(t, org.ID, "F", map[string]string{"production": "v0"})
	path := "/orgs/" + org.ID + "/secrets/" + s.ID
	alice.Do(t, "GET", path+"?min_seq=999999999", nil).Problem(t, http.StatusBadRequest, "invalid_request")

	env.StopProjector()
	w := alice.Do(t, "PATCH", path, map[string]any{"values": map[string]any{"production": "v1"}}).Expect(t, http.StatusOK)
	r := alice.Do(t, "GET", path+"?min_seq="+w.Header.Get("X-Keyledger-Seq"), nil)
	r.Problem(t, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// Started again, the projector takes its lease and catches up, which on a loaded
	// machine can take longer than one read's 200 ms wait: wait for it first, as the
	// other tests that stop the projector do.
	env.StartProjector(t)
	env.Wait(t, w.Seq(t))
	var row struct {
		Version int `json:"version"`
	}
	alice.Do(t, "GET", path+"?min_seq="+w.Header.Get("X-Keyledger-Seq"), nil).Expect(t, http.StatusOK).JSON(t, &row)
	if row.Version != 2 {
		t.Fatalf("read at the update's sequence: version %d, want 2", row.Version)
	}
}
