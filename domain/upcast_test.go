package domain_test

import (
	"testing"

	"github.com/keyledger/keyledger/domain"
)

// OrganizationCreated v1 (no reveal policy) is still in old logs; it must load, as an
// organization that allows reveals, which is what it meant when it was written.
func TestOrganizationCreatedV1IsUpcast(t *testing.T) {
	t.Parallel()
	v1 := []byte(`{"name":"Acme","owner_id":"u-founder"}`)
	ev, err := domain.DecodeEvent("OrganizationCreated", 1, v1)
	if err != nil {
		t.Fatal(err)
	}
	want := domain.OrganizationCreated{Name: "Acme", OwnerID: "u-founder", RevealPolicy: domain.RevealAllowed}
	if ev != want {
		t.Fatalf("upcast %+v, want %+v", ev, want)
	}
	o := domain.NewOrganization("o1")
	o.Apply(domain.Recorded{Event: ev})
	if o.RevealPolicy() != domain.RevealAllowed || o.Role("u-founder") != domain.RoleOwner {
		t.Fatalf("organization from a v1 event: policy %q, founder %q", o.RevealPolicy(), o.Role("u-founder"))
	}

	v2 := []byte(`{"name":"Acme","owner_id":"u-founder","reveal_policy":"disabled"}`)
	ev, err = domain.DecodeEvent("OrganizationCreated", 2, v2)
	if err != nil || ev.(domain.OrganizationCreated).RevealPolicy != domain.RevealDisabled {
		t.Fatalf("v2: %+v %v", ev, err)
	}
	if domain.SchemaVersion("OrganizationCreated") != 2 || domain.SchemaVersion("MemberAdded") != 1 {
		t.Fatal("schema versions changed without a test")
	}
	if _, err := domain.DecodeEvent("OrganizationCreated", 3, v2); err == nil {
		t.Fatal("schema 3 decoded")
	}
	if _, err := domain.CreateOrganization("Acme", "u", "sometimes"); !domain.IsCode(err, domain.CodeValidation) {
		t.Fatalf("bad initial policy: %v", err)
	}
}
