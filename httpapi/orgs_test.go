package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/keyledger/keyledger/httpapi/apitest"
)

type member struct {
	UserID  string `json:"user_id"`
	Email   string `json:"email"`
	Name    string `json:"name"`
	Role    string `json:"role"`
	AddedAt string `json:"added_at"`
}

func TestOrganizations(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	alice := env.SignUp(t, "alice@example.com", "Alice")
	r := alice.Do(t, "POST", "/orgs", map[string]any{"name": "  Acme  "}).Expect(t, http.StatusCreated)
	var org apitest.Org
	r.JSON(t, &org)
	if org.ID == "" || org.Name != "Acme" || org.Role == nil || *org.Role != "owner" || org.RevealPolicy != "allowed" || org.CreatedAt == "" {
		t.Fatalf("created %s", r.Body)
	}
	if r.Header.Get("X-Keyledger-Seq") == "" || r.Header.Get("Location") != "/api/v1/orgs/"+org.ID {
		t.Fatalf("headers %v", r.Header)
	}
	if got := alice.Do(t, "GET", "/orgs/"+org.ID, nil).Expect(t, http.StatusOK); string(got.Body) != string(r.Body) {
		t.Fatalf("get %s, created %s", got.Body, r.Body)
	}
	alice.CreateOrg(t, "Beta")
	bob := env.SignUp(t, "bob@example.com", "Bob")
	bob.CreateOrg(t, "Bob's")

	var list struct{ Items []apitest.Org }
	alice.Do(t, "GET", "/orgs", nil).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 2 || list.Items[0].Name != "Acme" || list.Items[1].Name != "Beta" {
		t.Fatalf("alice's orgs %+v", list.Items)
	}

	var updated apitest.Org
	alice.Do(t, "PATCH", "/orgs/"+org.ID, map[string]any{"name": "Acme Corp", "reveal_policy": "disabled"}).Expect(t, http.StatusOK).JSON(t, &updated)
	if updated.Name != "Acme Corp" || updated.RevealPolicy != "disabled" || *updated.Role != "owner" {
		t.Fatalf("updated %+v", updated)
	}
	alice.Do(t, "PATCH", "/orgs/"+org.ID, map[string]any{"reveal_policy": "sometimes"}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	alice.Do(t, "POST", "/orgs", map[string]any{"name": ""}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")

	var envs struct {
		Items []struct{ Slug, Name string }
	}
	alice.Do(t, "GET", "/orgs/"+org.ID+"/environments", nil).Expect(t, http.StatusOK).JSON(t, &envs)
	if len(envs.Items) != 3 || envs.Items[0].Slug != "development" || envs.Items[2].Name != "Production" {
		t.Fatalf("environments %+v", envs)
	}

	var me struct {
		Memberships []struct {
			OrgID   string `json:"org_id"`
			OrgName string `json:"org_name"`
			Role    string `json:"role"`
		} `json:"memberships"`
	}
	alice.Do(t, "GET", "/me", nil).Expect(t, http.StatusOK).JSON(t, &me)
	if len(me.Memberships) != 2 || me.Memberships[0].OrgName != "Acme Corp" || me.Memberships[0].Role != "owner" {
		t.Fatalf("memberships %+v", me.Memberships)
	}

	// A super-admin sees any organization, with no role of its own.
	root := env.CreateUser(t, "root@example.com", "Root", true)
	var seen apitest.Org
	root.Do(t, "GET", "/orgs/"+org.ID, nil).Expect(t, http.StatusOK).JSON(t, &seen)
	if seen.Role != nil || seen.Name != "Acme Corp" {
		t.Fatalf("super-admin sees %+v", seen)
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	owner := env.SignUp(t, "owner@example.com", "Owner")
	org := owner.CreateOrg(t, "Acme")
	base := "/orgs/" + org.ID + "/members"
	admin := env.SignUp(t, "admin@example.com", "Admin")
	editor := env.SignUp(t, "editor@example.com", "Editor")

	var m member
	r := owner.Do(t, "POST", base, map[string]any{"email": "ADMIN@example.com", "role": "admin"}).Expect(t, http.StatusCreated)
	r.JSON(t, &m)
	if m.UserID != admin.UserID || m.Email != "admin@example.com" || m.Name != "Admin" || m.Role != "admin" || m.AddedAt == "" {
		t.Fatalf("added %+v", m)
	}
	owner.Do(t, "POST", base, map[string]any{"email": "editor@example.com", "role": "editor"}).Expect(t, http.StatusCreated)

	p := owner.Do(t, "POST", base, map[string]any{"email": "ghost@example.com", "role": "viewer"}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	if len(p.Errors) != 1 || p.Errors[0].Field != "email" {
		t.Fatalf("unknown email errors %+v", p.Errors)
	}
	p = owner.Do(t, "POST", base, map[string]any{"email": "editor@example.com", "role": "boss"}).Problem(t, http.StatusUnprocessableEntity, "validation_failed")
	if len(p.Errors) != 1 || p.Errors[0].Field != "role" {
		t.Fatalf("bad role errors %+v", p.Errors)
	}

	var list struct{ Items []member }
	owner.Do(t, "GET", base, nil).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 3 {
		t.Fatalf("members %+v", list.Items)
	}
	// Members need priority ≥ 100: the editor is refused, the admin is not.
	editor.Do(t, "GET", base, nil).Problem(t, http.StatusForbidden, "forbidden")
	editor.Do(t, "POST", base, map[string]any{"email": "owner@example.com", "role": "viewer"}).Problem(t, http.StatusForbidden, "forbidden")
	admin.Do(t, "GET", base, nil).Expect(t, http.StatusOK)
	// Adding or removing an owner takes an owner.
	admin.Do(t, "PATCH", base+"/"+editor.UserID, map[string]any{"role": "owner"}).Problem(t, http.StatusForbidden, "forbidden")
	admin.Do(t, "DELETE", base+"/"+owner.UserID, nil).Problem(t, http.StatusForbidden, "forbidden")

	// The last owner can be neither demoted nor removed.
	owner.Do(t, "PATCH", base+"/"+owner.UserID, map[string]any{"role": "admin"}).Problem(t, http.StatusConflict, "last_owner")
	owner.Do(t, "DELETE", base+"/"+owner.UserID, nil).Problem(t, http.StatusConflict, "last_owner")
	// With a second owner, it can.
	owner.Do(t, "PATCH", base+"/"+admin.UserID, map[string]any{"role": "owner"}).Expect(t, http.StatusOK).JSON(t, &m)
	if m.Role != "owner" {
		t.Fatalf("promoted %+v", m)
	}
	owner.Do(t, "PATCH", base+"/"+owner.UserID, map[string]any{"role": "viewer"}).Expect(t, http.StatusOK)

	admin.Do(t, "DELETE", base+"/"+editor.UserID, nil).Expect(t, http.StatusNoContent)
	admin.Do(t, "DELETE", base+"/"+editor.UserID, nil).Problem(t, http.StatusNotFound, "not_found")
	// The removed member no longer sees the org.
	editor.Do(t, "GET", "/orgs/"+org.ID, nil).Problem(t, http.StatusNotFound, "not_found")
}
