package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

// TestRoleTable checks every row of API.md's role table over HTTP: each role (and a
// non-member and a platform super-admin) against view, reveal, create, edit and delete
// of its own secrets and of someone else's, then reveal under a disabled policy.
func TestRoleTable(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	owner := env.SignUp(t, "owner@example.com", "Owner")
	org := owner.CreateOrg(t, "Acme")
	base := "/orgs/" + org.ID

	author := env.SignUp(t, "author@example.com", "Author")
	owner.AddMember(t, org.ID, author.Email, "editor")
	clients := map[string]*apitest.Client{
		"owner":      owner,
		"admin":      env.SignUp(t, "admin@example.com", "Admin"),
		"editor":     env.SignUp(t, "editor@example.com", "Editor"),
		"viewer":     env.SignUp(t, "viewer@example.com", "Viewer"),
		"outsider":   env.SignUp(t, "outsider@example.com", "Outsider"),
		"superadmin": env.CreateUser(t, "root@example.com", "Root", true),
	}
	owner.AddMember(t, org.ID, "admin@example.com", "admin")
	owner.AddMember(t, org.ID, "editor@example.com", "editor")
	// The viewer owns secrets it created while it was an editor.
	owner.AddMember(t, org.ID, "viewer@example.com", "editor")

	value := map[string]string{"production": "prod-value-0123456789"}
	own := map[string][2]apitest.Secret{}
	for _, role := range []string{"owner", "admin", "editor", "viewer", "superadmin"} {
		c := clients[role]
		own[role] = [2]apitest.Secret{
			c.CreateSecret(t, org.ID, "OWN_EDIT_"+role, value),
			c.CreateSecret(t, org.ID, "OWN_DELETE_"+role, value),
		}
	}
	var viewerMember struct{ Role string }
	owner.Do(t, "PATCH", base+"/members/"+clients["viewer"].UserID, map[string]any{"role": "viewer"}).Expect(t, http.StatusOK).JSON(t, &viewerMember)
	if viewerMember.Role != "viewer" {
		t.Fatalf("viewer demotion: %+v", viewerMember)
	}
	others := author.CreateSecret(t, org.ID, "AUTHORS_SHARED", value)

	type expect struct {
		view, reveal, create, editOwn, editOther, deleteOwn, deleteOther int
	}
	const (
		ok, created, gone = http.StatusOK, http.StatusCreated, http.StatusNoContent
		denied, hidden    = http.StatusForbidden, http.StatusNotFound
		na                = 0
	)
	table := []struct {
		role string
		want expect
	}{
		{"owner", expect{ok, ok, created, ok, ok, gone, gone}},
		{"admin", expect{ok, ok, created, ok, ok, gone, gone}},
		{"editor", expect{ok, ok, created, ok, denied, gone, denied}},
		{"viewer", expect{ok, ok, denied, denied, denied, denied, denied}},
		{"superadmin", expect{ok, ok, created, ok, ok, gone, gone}},
		{"outsider", expect{hidden, hidden, hidden, na, hidden, na, hidden}},
	}
	for _, row := range table {
		t.Run(row.role, func(t *testing.T) {
			c, w := clients[row.role], row.want
			check := func(action string, r *apitest.Response, want int) {
				t.Helper()
				switch want {
				case denied:
					r.Problem(t, denied, "forbidden")
				case hidden:
					r.Problem(t, hidden, "not_found")
				default:
					if r.Status != want {
						t.Fatalf("%s: status %d, want %d: %s", action, r.Status, want, r.Body)
					}
				}
			}
			// view (masked) — the list and one row, with permissions that match the table.
			check("list", c.Do(t, "GET", base+"/secrets", nil), w.view)
			r := c.Do(t, "GET", base+"/secrets/"+others.ID, nil)
			check("view", r, w.view)
			if w.view == ok {
				var row apitest.Secret
				r.JSON(t, &row)
				if !row.Permissions.Reveal || row.Permissions.Modify != (w.editOther == ok) || row.Permissions.Delete != (w.deleteOther == gone) {
					t.Fatalf("permissions on someone else's secret: %+v", row.Permissions)
				}
				if row.Environments["production"].Mask != "prod***89" {
					t.Fatalf("mask %q", row.Environments["production"].Mask)
				}
			}
			// reveal
			r = c.Do(t, "POST", base+"/secrets/"+others.ID+"/reveal", map[string]any{"env": "production"})
			check("reveal", r, w.reveal)
			if w.reveal == ok {
				var rev struct {
					Value string `json:"value"`
				}
				r.JSON(t, &rev)
				if rev.Value != value["production"] {
					t.Fatalf("revealed %q", rev.Value)
				}
			}
			// create
			check("create", c.Do(t, "POST", base+"/secrets", map[string]any{"name": "NEW_BY_" + row.role}), w.create)
			// edit and delete own
			if w.editOwn != na {
				mine := own[row.role]
				r := c.Do(t, "PATCH", base+"/secrets/"+mine[0].ID, map[string]any{"description": "mine"})
				check("edit own", r, w.editOwn)
				if w.editOwn == ok {
					var row apitest.Secret
					r.JSON(t, &row)
					if !row.Permissions.Modify || !row.Permissions.Delete {
						t.Fatalf("permissions on own secret: %+v", row.Permissions)
					}
				}
				check("delete own", c.Do(t, "DELETE", base+"/secrets/"+mine[1].ID, nil), w.deleteOwn)
			}
			// edit and delete someone else's
			check("edit other's", c.Do(t, "PATCH", base+"/secrets/"+others.ID, map[string]any{"description": "by " + row.role}), w.editOther)
			victim := author.CreateSecret(t, org.ID, "VICTIM_"+row.role, value)
			check("delete other's", c.Do(t, "DELETE", base+"/secrets/"+victim.ID, nil), w.deleteOther)
		})
	}

	t.Run("reveal_policy disabled", func(t *testing.T) {
		var o apitest.Org
		owner.Do(t, "PATCH", base, map[string]any{"reveal_policy": "disabled"}).Expect(t, http.StatusOK).JSON(t, &o)
		if o.RevealPolicy != "disabled" {
			t.Fatalf("org %+v", o)
		}
		for _, role := range []string{"owner", "admin", "editor", "viewer", "superadmin", "outsider"} {
			r := clients[role].Do(t, "POST", base+"/secrets/"+others.ID+"/reveal", map[string]any{"env": "production"})
			if role == "outsider" {
				r.Problem(t, http.StatusNotFound, "not_found")
				continue
			}
			r.Problem(t, http.StatusForbidden, "reveal_disabled")
			var row apitest.Secret
			clients[role].Do(t, "GET", base+"/secrets/"+others.ID, nil).Expect(t, http.StatusOK).JSON(t, &row)
			if row.Permissions.Reveal {
				t.Fatalf("%s: permissions.reveal under a disabled policy", role)
			}
		}
	})
}

// TestNonMembersSeeNothing checks that an outsider gets 404, never 403, on every
// organization route, and that the same holds for an organization that does not exist.
func TestNonMembersSeeNothing(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	owner := env.SignUp(t, "owner@example.com", "Owner")
	org := owner.CreateOrg(t, "Acme")
	s := owner.CreateSecret(t, org.ID, "KEY", map[string]string{"development": "dev-value"})
	outsider := env.SignUp(t, "outsider@example.com", "Outsider")
	for _, orgID := range []string{org.ID, "11111111-2222-3333-4444-555555555555", "not-a-uuid"} {
		base := "/orgs/" + orgID
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{"GET", base, nil},
			{"PATCH", base, map[string]any{"name": "Mine"}},
			{"GET", base + "/environments", nil},
			{"GET", base + "/members", nil},
			{"POST", base + "/members", map[string]any{"email": "outsider@example.com", "role": "owner"}},
			{"PATCH", base + "/members/" + owner.UserID, map[string]any{"role": "viewer"}},
			{"DELETE", base + "/members/" + owner.UserID, nil},
			{"GET", base + "/secrets", nil},
			{"POST", base + "/secrets", map[string]any{"name": "X"}},
			{"GET", base + "/secrets/" + s.ID, nil},
			{"PATCH", base + "/secrets/" + s.ID, map[string]any{"description": "x"}},
			{"DELETE", base + "/secrets/" + s.ID, nil},
			{"POST", base + "/secrets/" + s.ID + "/reveal", map[string]any{"env": "development"}},
			{"GET", base + "/secrets/" + s.ID + "/versions", nil},
			{"POST", base + "/secrets/" + s.ID + "/rollback", map[string]any{"env": "development", "version": 1}},
		} {
			t.Run(fmt.Sprintf("%s %s", tc.method, tc.path), func(t *testing.T) {
				outsider.Do(t, tc.method, tc.path, tc.body).Problem(t, http.StatusNotFound, "not_found")
			})
		}
	}
	// The secret of one org is not reachable through another the caller belongs to.
	other := outsider.CreateOrg(t, "Outsider Inc")
	outsider.Do(t, "GET", "/orgs/"+other.ID+"/secrets/"+s.ID, nil).Problem(t, http.StatusNotFound, "not_found")
	outsider.Do(t, "POST", "/orgs/"+other.ID+"/secrets/"+s.ID+"/reveal", map[string]any{"env": "development"}).Problem(t, http.StatusNotFound, "not_found")
}
