package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

// A grid row's rendering is kept with the name index's entry and shared by every
// caller's pages (see appendGridRow): each caller must still see its own permissions
// (owner, editor on its own and on another's secret, viewer), the organization's
// current reveal policy, and a row as it is after every change, whoever's page
// rendered it first. One secret's read shares the same rendering and must agree with
// the grid.
func TestKeptGridRowsAreRightForEveryCaller(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	owner := env.SignUp(t, "owner@example.com", "Owner")
	org := owner.CreateOrg(t, "Acme")
	editor := env.SignUp(t, "editor@example.com", "Editor")
	viewer := env.SignUp(t, "viewer@example.com", "Viewer")
	owner.AddMember(t, org.ID, editor.Email, "editor")
	owner.AddMember(t, org.ID, viewer.Email, "viewer")
	base := "/orgs/" + org.ID
	owners := owner.CreateSecret(t, org.ID, "A_OWNERS", map[string]string{"production": "owners-value-0123456789"})
	editors := editor.CreateSecret(t, org.ID, "B_EDITORS", map[string]string{"production": "editors-value-0123456789"})

	type perms struct{ reveal, modify, delete bool }
	type want struct {
		perms              map[string]perms // by secret name
		description        string           // of B_EDITORS
		version, prodValue int              // of B_EDITORS
		ownersProdSet      bool
	}
	callers := []*apitest.Client{owner, editor, viewer}
	check := func(stage string, first int, w map[*apitest.Client]want) {
		t.Helper()
		// Each stage starts with another caller, so that the rows of its first page
		// are rendered for that caller.
		for k := range callers {
			c := callers[(first+k)%len(callers)]
			var pg page
			c.Do(t, "GET", base+"/secrets", nil).Expect(t, http.StatusOK).JSON(t, &pg)
			if len(pg.Items) != 2 {
				t.Fatalf("%s, %s: %d rows", stage, c, len(pg.Items))
			}
			for _, row := range pg.Items {
				p := perms{row.Permissions.Reveal, row.Permissions.Modify, row.Permissions.Delete}
				if p != w[c].perms[row.Name] {
					t.Fatalf("%s, %s: permissions on %s %+v, want %+v", stage, c, row.Name, p, w[c].perms[row.Name])
				}
				var one apitest.Secret
				c.Do(t, "GET", base+"/secrets/"+row.ID, nil).Expect(t, http.StatusOK).JSON(t, &one)
				if one.Permissions != row.Permissions || one.Description != row.Description || one.Version != row.Version ||
					one.Environments["production"] != row.Environments["production"] || one.UpdatedAt != row.UpdatedAt {
					t.Fatalf("%s, %s: one secret %+v, the grid's row %+v", stage, c, one, row)
				}
			}
			a, b := pg.Items[0], pg.Items[1]
			if b.Description != w[c].description || b.Version != w[c].version || b.Environments["production"].Version != w[c].prodValue {
				t.Fatalf("%s, %s: B_EDITORS %+v", stage, c, b)
			}
			if a.Environments["production"].Set != w[c].ownersProdSet || a.Owner.ID != owner.UserID || b.Owner.ID != editor.UserID {
				t.Fatalf("%s, %s: A_OWNERS %+v", stage, c, a)
			}
		}
	}
	all := perms{true, true, true}
	viewOnly := perms{true, false, false}
	expect := func(reveal bool, description string, version, prodValue int, ownersProdSet bool) map[*apitest.Client]want {
		p := func(x perms) perms { x.reveal = x.reveal && reveal; return x }
		return map[*apitest.Client]want{
			owner:  {map[string]perms{"A_OWNERS": p(all), "B_EDITORS": p(all)}, description, version, prodValue, ownersProdSet},
			editor: {map[string]perms{"A_OWNERS": p(viewOnly), "B_EDITORS": p(all)}, description, version, prodValue, ownersProdSet},
			viewer: {map[string]perms{"A_OWNERS": p(viewOnly), "B_EDITORS": p(viewOnly)}, description, version, prodValue, ownersProdSet},
		}
	}
	check("as created", 0, expect(true, "", 1, 1, true))
	check("again", 2, expect(true, "", 1, 1, true))

	owner.Do(t, "PATCH", base, map[string]any{"reveal_policy": "disabled"}).Expect(t, http.StatusOK)
	check("reveal disabled", 1, expect(false, "", 1, 1, true))
	owner.Do(t, "PATCH", base, map[string]any{"reveal_policy": "allowed"}).Expect(t, http.StatusOK)
	check("reveal allowed again", 2, expect(true, "", 1, 1, true))

	editor.Do(t, "PATCH", base+"/secrets/"+editors.ID, map[string]any{"description": "changed",
		"values": map[string]any{"production": "editors-value-changed-0123456789"}}).Expect(t, http.StatusOK)
	check("after an update", 0, expect(true, "changed", 2, 2, true))
	owner.Do(t, "DELETE", base+"/secrets/"+owners.ID+"?env=production", nil).Expect(t, http.StatusNoContent)
	check("after a value's deletion", 1, expect(true, "changed", 2, 2, false))

	// A member whose role changes sees its new permissions on rows already rendered.
	owner.Do(t, "PATCH", base+"/members/"+viewer.UserID, map[string]any{"role": "admin"}).Expect(t, http.StatusOK)
	w := expect(true, "changed", 2, 2, false)
	w[viewer] = want{map[string]perms{"A_OWNERS": all, "B_EDITORS": all}, "changed", 2, 2, false}
	check("after a promotion", 2, w)
}
