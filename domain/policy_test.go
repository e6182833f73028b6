package domain_test

import (
	"fmt"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

// The principals of the policy tests. "me" is the user whose ownership of the target
// secret varies.
const me = "u-me"

var policyPrincipals = []struct {
	name string
	p    domain.Principal
}{
	{"owner", domain.Principal{UserID: me, Role: domain.RoleOwner}},
	{"admin", domain.Principal{UserID: me, Role: domain.RoleAdmin}},
	{"editor", domain.Principal{UserID: me, Role: domain.RoleEditor}},
	{"viewer", domain.Principal{UserID: me, Role: domain.RoleViewer}},
	{"non-member", domain.Principal{UserID: me}},
	{"superadmin", domain.Principal{UserID: me, Superadmin: true}},
}

// allowedCodes is API.md's role table, with "" for ✓ and the error code for ✗, for the
// actions that depend on ownership split in two columns.
type allowedCodes struct {
	view, reveal, create  domain.Code
	modifyOwn, modifyAny  domain.Code
	deleteOwn, deleteAny  domain.Code
	manage, revealDisable domain.Code
}

// Short names for the cells of roleTable.
const (
	yes    domain.Code = ""
	no     domain.Code = domain.CodeForbidden
	hidden domain.Code = domain.CodeNotFound
	off    domain.Code = domain.CodeRevealDisabled
)

var roleTable = map[string]allowedCodes{
	// view, reveal, create, modify own, modify any, delete own, delete any, manage, reveal when disabled
	"owner":      {yes, yes, yes, yes, yes, yes, yes, yes, off},
	"admin":      {yes, yes, yes, yes, yes, yes, yes, yes, off},
	"editor":     {yes, yes, yes, yes, no, yes, no, no, off},
	"viewer":     {yes, yes, no, no, no, no, no, no, off},
	"non-member": {hidden, hidden, hidden, hidden, hidden, hidden, hidden, hidden, hidden},
	"superadmin": {yes, yes, yes, yes, yes, yes, yes, yes, off},
}

// expected is the code the role table gives for one cell.
func (c allowedCodes) expected(a domain.Action, owns bool, policy domain.RevealPolicy) domain.Code {
	switch a {
	case domain.ActionView:
		return c.view
	case domain.ActionReveal:
		if policy == domain.RevealDisabled {
			return c.revealDisable
		}
		return c.reveal
	case domain.ActionCreate:
		return c.create
	case domain.ActionModify:
		if owns {
			return c.modifyOwn
		}
		return c.modifyAny
	case domain.ActionDelete:
		if owns {
			return c.deleteOwn
		}
		return c.deleteAny
	case domain.ActionManage:
		return c.manage
	}
	panic("unknown action " + a)
}

func target(owns bool, policy domain.RevealPolicy) domain.Target {
	owner := "u-someone-else"
	if owns {
		owner = me
	}
	return domain.Target{OwnerID: owner, RevealPolicy: policy}
}

func TestAuthorizeFollowsTheRoleTable(t *testing.T) {
	t.Parallel()
	actions := []domain.Action{domain.ActionView, domain.ActionReveal, domain.ActionCreate, domain.ActionModify, domain.ActionDelete, domain.ActionManage}
	for _, pr := range policyPrincipals {
		for _, a := range actions {
			for _, owns := range []bool{true, false} {
				for _, policy := range []domain.RevealPolicy{domain.RevealAllowed, domain.RevealDisabled} {
					want := roleTable[pr.name].expected(a, owns, policy)
					name := fmt.Sprintf("%s/%s/owns=%v/reveal=%s", pr.name, a, owns, policy)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						thenCode(t, domain.Authorize(pr.p, a, target(owns, policy)), want)
					})
				}
			}
		}
	}
}

func TestAuthorizeEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    domain.Principal
		a    domain.Action
		t    domain.Target
		want domain.Code
	}{
		// An empty owner must not match an empty user id: nobody owns an ownerless secret.
		{"editor without id on ownerless secret", domain.Principal{Role: domain.RoleEditor}, domain.ActionModify, domain.Target{}, domain.CodeForbidden},
		{"editor without id deleting ownerless secret", domain.Principal{Role: domain.RoleEditor}, domain.ActionDelete, domain.Target{}, domain.CodeForbidden},
		// A viewer who created a secret (then was demoted) may not change it.
		{"viewer who owns", domain.Principal{UserID: me, Role: domain.RoleViewer}, domain.ActionModify, domain.Target{OwnerID: me}, domain.CodeForbidden},
		{"super-admin who is a viewer", domain.Principal{UserID: me, Role: domain.RoleViewer, Superadmin: true}, domain.ActionManage, domain.Target{}, ""},
		{"reveal with no policy given", domain.Principal{UserID: me, Role: domain.RoleViewer}, domain.ActionReveal, domain.Target{}, ""},
		{"non-member under disabled reveal gets not_found, not reveal_disabled", domain.Principal{UserID: me}, domain.ActionReveal, domain.Target{RevealPolicy: domain.RevealDisabled}, domain.CodeNotFound},
		{"unknown role is no member", domain.Principal{UserID: me, Role: "root"}, domain.ActionView, domain.Target{}, domain.CodeNotFound},
		{"unknown action", domain.Principal{UserID: me, Role: domain.RoleOwner}, "launch", domain.Target{}, domain.CodeForbidden},
		{"unknown action for non-member", domain.Principal{UserID: me}, "launch", domain.Target{}, domain.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			thenCode(t, domain.Authorize(tt.p, tt.a, tt.t), tt.want)
		})
	}
}

func TestPermissionsForAgreesWithTheRoleTable(t *testing.T) {
	t.Parallel()
	for _, pr := range policyPrincipals {
		for _, owns := range []bool{true, false} {
			for _, policy := range []domain.RevealPolicy{domain.RevealAllowed, domain.RevealDisabled} {
				row := roleTable[pr.name]
				want := domain.SecretPermissions{
					Reveal: row.expected(domain.ActionReveal, owns, policy) == yes,
					Modify: row.expected(domain.ActionModify, owns, policy) == yes,
					Delete: row.expected(domain.ActionDelete, owns, policy) == yes,
				}
				t.Run(fmt.Sprintf("%s/owns=%v/reveal=%s", pr.name, owns, policy), func(t *testing.T) {
					t.Parallel()
					if got := domain.PermissionsFor(pr.p, target(owns, policy)); got != want {
						t.Fatalf("PermissionsFor = %+v, want %+v", got, want)
					}
				})
			}
		}
	}
}

// TestPermissionsForSpotChecks spells out a few rows in full, so that a mistake in the
// table-driven expectations above cannot hide a mistake in the policy.
func TestPermissionsForSpotChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    domain.Principal
		t    domain.Target
		want domain.SecretPermissions
	}{
		{"viewer", domain.Principal{UserID: me, Role: domain.RoleViewer}, domain.Target{OwnerID: me, RevealPolicy: domain.RevealAllowed}, domain.SecretPermissions{Reveal: true}},
		{"editor on someone else's secret", domain.Principal{UserID: me, Role: domain.RoleEditor}, domain.Target{OwnerID: "x", RevealPolicy: domain.RevealAllowed}, domain.SecretPermissions{Reveal: true}},
		{"editor on own secret", domain.Principal{UserID: me, Role: domain.RoleEditor}, domain.Target{OwnerID: me, RevealPolicy: domain.RevealAllowed}, domain.SecretPermissions{Reveal: true, Modify: true, Delete: true}},
		{"admin, reveal disabled", domain.Principal{UserID: me, Role: domain.RoleAdmin}, domain.Target{OwnerID: "x", RevealPolicy: domain.RevealDisabled}, domain.SecretPermissions{Modify: true, Delete: true}},
		{"non-member", domain.Principal{UserID: me}, domain.Target{OwnerID: me, RevealPolicy: domain.RevealAllowed}, domain.SecretPermissions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := domain.PermissionsFor(tt.p, tt.t); got != tt.want {
				t.Fatalf("PermissionsFor = %+v, want %+v", got, tt.want)
			}
		})
	}
}
