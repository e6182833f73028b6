package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/httpapi/apitest"
	"github.com/keyledger/keyledger/httpapi/wire"
)

// accessAt asks who had access to secretID at instant at (zero: now).
func accessAt(t *testing.T, c *apitest.Client, orgID, secretID string, at time.Time) wire.AccessReview {
	t.Helper()
	q := url.Values{"secret_id": {secretID}}
	if !at.IsZero() {
		q.Set("at", at.UTC().Format(time.RFC3339Nano))
	}
	var out wire.AccessReview
	c.Do(t, "GET", "/orgs/"+orgID+"/access?"+q.Encode(), nil).Expect(t, http.StatusOK).JSON(t, &out)
	return out
}

// subjectLines renders a review's subjects one per line, for exact comparison.
func subjectLines(r wire.AccessReview) []string {
	out := make([]string, 0, len(r.Subjects))
	for _, s := range r.Subjects {
		who := s.Email
		if s.Kind == wire.SubjectServiceToken {
			who = s.Name + fmt.Sprint(s.Environments)
		}
		out = append(out, fmt.Sprintf("%s %s %s [%s]", s.Kind, who, s.Role, strings.Join(s.Can, " ")))
	}
	return out
}

func expectSubjects(t *testing.T, what string, r wire.AccessReview, want ...string) {
	t.Helper()
	if got := subjectLines(r); !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// TestAccessReviewReplaysMembershipTokensAndOwnership walks one organization through a
// member added as editor, promoted to admin and removed, and a production token created
// and revoked, and asks who had access to two secrets (one the editor owns, one it does
// not) at three instants.
func TestAccessReviewReplaysMembershipTokensAndOwnership(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	olive := env.SignUp(t, "olive@example.com", "Olive")
	org := olive.CreateOrg(t, "Acme")
	o := "/orgs/" + org.ID
	eddie := env.SignUp(t, "eddie@example.com", "Eddie")
	ella := env.SignUp(t, "ella@example.com", "Ella")
	olive.AddMember(t, org.ID, eddie.Email, "editor")
	olive.AddMember(t, org.ID, ella.Email, "editor")
	eddies := eddie.CreateSecret(t, org.ID, "EDDIES_KEY", map[string]string{"production": "prod-value-0123456789"})
	olives := olive.CreateSecret(t, org.ID, "OLIVES_KEY", map[string]string{"staging": "stg-value-0123456789"})
	var token struct {
		ID string `json:"id"`
	}
	olive.Do(t, "POST", o+"/service-tokens", map[string]any{"name": "deploy", "environments": []string{"production"}}).Expect(t, http.StatusCreated).JSON(t, &token)
	// A personal access token acts as its user: it adds no subject.
	eddie.Do(t, "POST", "/auth/tokens", map[string]any{"name": "laptop"}).Expect(t, http.StatusCreated)
	asEditor := time.Now()

	olive.Do(t, "PATCH", o+"/members/"+ella.UserID, map[string]any{"role": "admin"}).Expect(t, http.StatusOK)
	asAdmin := time.Now()

	olive.Do(t, "DELETE", o+"/service-tokens/"+token.ID, nil).Expect(t, http.StatusNoContent)
	olive.Do(t, "DELETE", o+"/members/"+ella.UserID, nil).Expect(t, http.StatusNoContent)

	r := accessAt(t, olive, org.ID, eddies.ID, asEditor)
	if r.SecretID != eddies.ID || r.SecretName != "EDDIES_KEY" || r.OwnerID != eddie.UserID || !r.At.Equal(asEditor.UTC().Truncate(time.Nanosecond)) {
		t.Errorf("review header: %+v", r)
	}
	expectSubjects(t, "Eddie's secret while Ella was an editor", r,
		"user eddie@example.com editor [reveal modify delete fetch]",
		"user ella@example.com editor [reveal fetch]",
		"user olive@example.com owner [reveal modify delete fetch]",
		"service_token deploy[production]  [fetch]")
	expectSubjects(t, "Olive's secret while Ella was an editor (an editor changes only what it owns)",
		accessAt(t, olive, org.ID, olives.ID, asEditor),
		"user eddie@example.com editor [reveal fetch]",
		"user ella@example.com editor [reveal fetch]",
		"user olive@example.com owner [reveal modify delete fetch]",
		"service_token deploy[production]  [fetch]")
	expectSubjects(t, "Olive's secret while Ella was an admin", accessAt(t, olive, org.ID, olives.ID, asAdmin),
		"user eddie@example.com editor [reveal fetch]",
		"user ella@example.com admin [reveal modify delete fetch]",
		"user olive@example.com owner [reveal modify delete fetch]",
		"service_token deploy[production]  [fetch]")
	expectSubjects(t, "Olive's secret now: Ella removed, the token revoked", accessAt(t, olive, org.ID, olives.ID, time.Time{}),
		"user eddie@example.com editor [reveal fetch]",
		"user olive@example.com owner [reveal modify delete fetch]")
	if s := accessAt(t, olive, org.ID, eddies.ID, asEditor).Subjects[3]; s.ID != token.ID || s.Email != "" || s.Role != "" {
		t.Errorf("token subject: %+v", s)
	}
}

// TestAccessReviewRefusals checks who may ask and what a bad question gets.
func TestAccessReviewRefusals(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	olive := env.SignUp(t, "olive@example.com", "Olive")
	org := olive.CreateOrg(t, "Acme")
	other := olive.CreateOrg(t, "Elsewhere")
	elsewhere := olive.CreateSecret(t, other.ID, "ELSEWHERE", nil)
	beforeSecret := time.Now()
	sec := olive.CreateSecret(t, org.ID, "DOOMED", map[string]string{"development": "dev-value"})
	whileItExisted := time.Now()
	clients := map[string]*apitest.Client{}
	for _, role := range []string{"admin", "editor", "viewer"} {
		c := env.SignUp(t, role+"@example.com", role)
		olive.AddMember(t, org.ID, c.Email, role)
		clients[role] = c
	}
	outsider := env.SignUp(t, "outsider@example.com", "Outsider")
	path := "/orgs/" + org.ID + "/access?secret_id=" + sec.ID

	clients["admin"].Do(t, "GET", path, nil).Expect(t, http.StatusOK)
	clients["editor"].Do(t, "GET", path, nil).Problem(t, http.StatusForbidden, "forbidden")
	clients["viewer"].Do(t, "GET", path, nil).Problem(t, http.StatusForbidden, "forbidden")
	outsider.Do(t, "GET", path, nil).Problem(t, http.StatusNotFound, "not_found")
	env.Anonymous().Do(t, "GET", path, nil).Problem(t, http.StatusUnauthorized, "unauthenticated")

	olive.Do(t, "GET", "/orgs/"+org.ID+"/access", nil).Problem(t, http.StatusBadRequest, "invalid_request")
	olive.Do(t, "GET", path+"&at=yesterday", nil).Problem(t, http.StatusBadRequest, "invalid_request")
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	p := olive.Do(t, "GET", path+"&at="+future, nil).Problem(t, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(p.Detail, "future") {
		t.Errorf("future at: %+v", p)
	}
	for _, bad := range []string{"00000000-0000-0000-0000-000000000000", elsewhere.ID} {
		olive.Do(t, "GET", "/orgs/"+org.ID+"/access?secret_id="+url.QueryEscape(bad), nil).Problem(t, http.StatusNotFound, "not_found")
	}
	// Not a UUID: a bad query parameter, as the audit trail's secret_id.
	olive.Do(t, "GET", "/orgs/"+org.ID+"/access?secret_id=nope", nil).Problem(t, http.StatusBadRequest, "invalid_request")
	before := url.QueryEscape(beforeSecret.UTC().Format(time.RFC3339Nano))
	olive.Do(t, "GET", path+"&at="+before, nil).Problem(t, http.StatusNotFound, "not_found")

	olive.Do(t, "DELETE", "/orgs/"+org.ID+"/secrets/"+sec.ID, nil).Expect(t, http.StatusNoContent)
	olive.Do(t, "GET", path, nil).Problem(t, http.StatusNotFound, "not_found")
	// The deleted secret's past stays reviewable.
	if r := accessAt(t, olive, org.ID, sec.ID, whileItExisted); len(r.Subjects) != 1 || r.Subjects[0].Email != "olive@example.com" {
		t.Errorf("review of the deleted secret's past: %q", subjectLines(r))
	}
}
