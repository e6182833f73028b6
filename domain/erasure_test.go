package domain_test

import (
	"errors"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

// Given an organization, when a principal erases it with a confirmation, then only an
// owner (or a super-admin) with the exact name gets OrganizationErased.
func TestEraseOrganization(t *testing.T) {
	const orgID, owner, admin = "org-1", "u-owner", "u-admin"
	org := domain.NewOrganization(orgID)
	org.Apply(domain.Recorded{Event: domain.OrganizationCreated{Name: "Acme Corp", OwnerID: owner}})
	org.Apply(domain.Recorded{Event: domain.MemberAdded{UserID: admin, Role: domain.RoleAdmin}})
	cases := []struct {
		name    string
		p       domain.Principal
		confirm string
		code    domain.Code
		field   string
	}{
		{"owner with the name", domain.Principal{UserID: owner, Role: domain.RoleOwner}, "Acme Corp", "", ""},
		{"super-admin, not a member", domain.Principal{UserID: "u-root", Superadmin: true}, "Acme Corp", "", ""},
		{"admin", domain.Principal{UserID: admin, Role: domain.RoleAdmin}, "Acme Corp", domain.CodeForbidden, ""},
		{"non-member", domain.Principal{UserID: "u-x"}, "Acme Corp", domain.CodeForbidden, ""},
		{"missing confirmation", domain.Principal{UserID: owner, Role: domain.RoleOwner}, "", domain.CodeValidation, "confirm"},
		{"another case", domain.Principal{UserID: owner, Role: domain.RoleOwner}, "acme corp", domain.CodeValidation, "confirm"},
		{"trailing space", domain.Principal{UserID: owner, Role: domain.RoleOwner}, "Acme Corp ", domain.CodeValidation, "confirm"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := org.Erase(c.p, c.confirm)
			if c.code == "" {
				if err != nil || ev != (domain.OrganizationErased{OrgID: orgID}) {
					t.Fatalf("Erase: %v, %v; want OrganizationErased", ev, err)
				}
				return
			}
			if domain.ErrorCode(err) != c.code || ev != nil {
				t.Fatalf("Erase: %v, %v; want %s", ev, err, c.code)
			}
			var de *domain.Error
			if c.field != "" && (!errors.As(err, &de) || len(de.Fields) != 1 || de.Fields[0].Field != c.field) {
				t.Fatalf("Erase: %v, want a field error on %s", err, c.field)
			}
		})
	}
	if _, err := domain.NewOrganization("missing").Erase(domain.Principal{UserID: owner, Superadmin: true}, "x"); !domain.IsCode(err, domain.CodeNotFound) {
		t.Fatalf("erasing an organization that does not exist: %v, want not_found", err)
	}
}
