package projections_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// SecretPageAt answers a page in one snapshot only while the name index is exactly
// as current as the read models: never before the index is loaded, never once a
// change was projected that the index has not seen (the caller then takes the slow
// path, which brings it up to date), and then the same rows and cursor as ListSecrets.
// A non-member reads the organization but no role; an unknown organization is
// not_found.
func TestSecretPageAtStandsOnlyOnACurrentIndex(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	create := func(name string) {
		t.Helper()
		res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: name,
			Values: map[domain.Environment]domain.Plaintext{domain.Staging: domain.NewPlaintext("v-" + name)}})
		if err != nil {
			t.Fatal(err)
		}
		r.wait(t, res.Seq)
	}
	for i := range 12 {
		create(fmt.Sprintf("KEY_%02d", 11-i))
	}
	f := projections.SecretFilter{Limit: 5}
	if _, ok, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, f); err != nil || ok {
		t.Fatalf("before the index is loaded: ok %v, err %v", ok, err)
	}
	same := func() {
		t.Helper()
		want, wantNext, err := r.db.Secrets.ListSecrets(ctx, r.orgID, f)
		if err != nil {
			t.Fatal(err)
		}
		page, ok, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, f)
		if err != nil || !ok {
			t.Fatalf("on a current index: ok %v, err %v", ok, err)
		}
		if page.OrgErr != nil || page.Role != domain.RoleOwner || page.Org.ID != r.orgID {
			t.Fatalf("access %+v, %q, %v", page.Org, page.Role, page.OrgErr)
		}
		if !slices.Equal(names(page.Rows), names(want)) || page.Next != wantNext {
			t.Fatalf("page %v next %q, ListSecrets %v next %q", names(page.Rows), page.Next, names(want), wantNext)
		}
		if st := page.Rows[0].Environments[domain.Staging]; !st.Set || st.Version != 1 || st.Mask == "" {
			t.Fatalf("staging of %s: %+v", page.Rows[0].Name, st)
		}
	}
	same()
	f.Cursor = func() string { _, next, _ := r.db.Secrets.ListSecrets(ctx, r.orgID, f); return next }()
	same()
	f.Cursor = ""

	create("AAA_FIRST")
	if _, ok, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, f); err != nil || ok {
		t.Fatalf("after a change the index has not seen: ok %v, err %v", ok, err)
	}
	same()

	page, ok, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, "00000000-0000-4000-8000-000000000001", f)
	if err != nil || !ok || page.Role != "" || page.OrgErr != nil {
		t.Fatalf("a non-member: ok %v, role %q, org err %v, err %v", ok, page.Role, page.OrgErr, err)
	}
	if _, ok, _ := r.db.Secrets.SecretPageAt(ctx, "not-a-uuid", r.owner.UserID, f); ok {
		t.Fatal("a malformed organization id took the fast path")
	}
}
