package projections_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// SecretPageAt and SecretAccess answer from the name index as current as the read
// models were when they were called: the same rows and cursor as ListSecrets from the
// first call on (the first loads the index), a change on the very next call (never a
// page from before it), and on an unchanged read model no row read from Postgres and
// no opened name — one checkpoint read per call. A non-member reads the organization
// but no role; an unknown or malformed organization is not_found.
func TestSecretPageAtIsAsCurrentAsTheReadModels(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	create := func(name string) string {
		t.Helper()
		res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: name,
			Values: map[domain.Environment]domain.Plaintext{domain.Staging: domain.NewPlaintext("v-" + name)}})
		if err != nil {
			t.Fatal(err)
		}
		r.wait(t, res.Seq)
		return res.ID
	}
	for i := range 12 {
		create(fmt.Sprintf("KEY_%02d", 11-i))
	}
	f := projections.SecretFilter{Limit: 5}
	same := func() projections.SecretPage {
		t.Helper()
		page, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, f)
		if err != nil || page.FilterErr != nil {
			t.Fatalf("filter err %v, err %v", page.FilterErr, err)
		}
		want, wantNext, err := r.db.Secrets.ListSecrets(ctx, r.orgID, f)
		if err != nil {
			t.Fatal(err)
		}
		if page.OrgErr != nil || page.Role != domain.RoleOwner || page.Org.ID != r.orgID {
			t.Fatalf("access %+v, %q, %v", page.Org, page.Role, page.OrgErr)
		}
		for _, g := range page.Rows {
			checkGridFields(t, g)
		}
		if !slices.Equal(gridNames(page.Rows), names(want)) || page.Next != wantNext {
			t.Fatalf("page %v next %q, ListSecrets %v next %q", gridNames(page.Rows), page.Next, names(want), wantNext)
		}
		if st := page.Rows[0].Row().Environments[domain.Staging]; !st.Set || st.Version != 1 || st.Mask == "" {
			t.Fatalf("staging of %s: %+v", page.Rows[0].Name(), st)
		}
		return page
	}
	same()
	f.Cursor = func() string { _, next, _ := r.db.Secrets.ListSecrets(ctx, r.orgID, f); return next }()
	same()
	f.Cursor = ""

	// Unchanged read models: a page and a read of one secret read no row and open no
	// name, and ask Postgres only for the checkpoint.
	before, reads := r.db.Secrets.GridCost(), r.db.Secrets.CheckpointReads()
	page, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, f)
	if err != nil {
		t.Fatal(err)
	}
	one, err := r.db.Secrets.SecretAccess(ctx, r.orgID, r.owner.UserID, page.Rows[1].ID())
	if err != nil || one.SecretErr != nil || one.Secret.Name() != page.Rows[1].Name() || one.Role != domain.RoleOwner {
		t.Fatalf("one secret: %+v, %v", one, err)
	}
	if cost := r.db.Secrets.GridCost(); cost.RowsRead != before.RowsRead || cost.NamesOpened != before.NamesOpened {
		t.Fatalf("on unchanged read models a page and a read cost %+v, then %+v", before, cost)
	}
	if got := r.db.Secrets.CheckpointReads() - reads; got != 2 {
		t.Fatalf("two calls one after the other read the checkpoint %d times, want 2", got)
	}

	// A change shows on the very next call, of a page as of one secret.
	id := create("AAA_FIRST")
	if page := same(); page.Rows[0].Name() != "AAA_FIRST" {
		t.Fatalf("after a create the first row is %q", page.Rows[0].Name())
	}
	v := domain.NewPlaintext("changed")
	res, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: id,
		Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v}})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, res.Seq)
	one, err = r.db.Secrets.SecretAccess(ctx, r.orgID, r.owner.UserID, id)
	if row := one.Secret.Row(); err != nil || row.Environments[domain.Production].Version != 1 || row.Version != 2 {
		t.Fatalf("after an update: %+v, %v", row, err)
	}
	checkGridFields(t, one.Secret)
	prod := domain.Production
	removed, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: id, Env: &prod})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, removed.Seq)
	one, err = r.db.Secrets.SecretAccess(ctx, r.orgID, r.owner.UserID, id)
	if row := one.Secret.Row(); err != nil || row.Environments[domain.Production].Set || row.Environments[domain.Production].Version != 1 {
		t.Fatalf("after a value's deletion: %+v, %v", row, err)
	}
	checkGridFields(t, one.Secret)
	del, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: id})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, del.Seq)
	if one, err = r.db.Secrets.SecretAccess(ctx, r.orgID, r.owner.UserID, id); err != nil || !domain.IsCode(one.SecretErr, domain.CodeNotFound) {
		t.Fatalf("after a delete: %+v, %v", one, err)
	}

	page, err = r.db.Secrets.SecretPageAt(ctx, r.orgID, "00000000-0000-4000-8000-000000000001", f)
	if err != nil || page.FilterErr != nil || page.Role != "" || page.OrgErr != nil {
		t.Fatalf("a non-member: filter err %v, role %q, org err %v, err %v", page.FilterErr, page.Role, page.OrgErr, err)
	}
	// A cursor this server never returned is the page's validation error, after the
	// access (which the caller checks first).
	bad, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, projections.SecretFilter{Cursor: "not a cursor"})
	if err != nil || bad.Role != domain.RoleOwner || !domain.IsCode(bad.FilterErr, domain.CodeValidation) || bad.Rows != nil {
		t.Fatalf("a bad cursor: %+v, %v", bad, err)
	}
	// Ids of no organization answer not_found and leave no index behind (so that they
	// cannot push real organizations' indexes out).
	indexed := r.db.Secrets.IndexedOrgs()
	r.db.Secrets.LimitIndexedOrgs(indexed)
	for _, org := range []string{"not-a-uuid", "00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"} {
		if page, err := r.db.Secrets.SecretPageAt(ctx, org, r.owner.UserID, f); err != nil || !domain.IsCode(page.OrgErr, domain.CodeNotFound) {
			t.Fatalf("organization %q: %v, %v", org, page.OrgErr, err)
		}
		if one, err := r.db.Secrets.SecretAccess(ctx, org, r.owner.UserID, id); err != nil || !domain.IsCode(one.OrgErr, domain.CodeNotFound) {
			t.Fatalf("organization %q: %v, %v", org, one.OrgErr, err)
		}
	}
	if got := r.db.Secrets.IndexedOrgs(); got != indexed {
		t.Fatalf("requests for unknown organizations left %d indexes, had %d", got, indexed)
	}
}

// Another replica's index of an organization that was erased meanwhile (the projector
// that applied the erasure dropped only its own process's index) answers not_found at
// its next read and is dropped: no open name of an erased organization stays in any
// replica's memory.
func TestAnotherReplicasIndexForgetsAnErasedOrganization(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: "GONE_SOON"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, res.Seq)
	other, err := projections.Open(ctx, r.url, r.env.Store.Keyring(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	page, err := other.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, projections.SecretFilter{})
	if err != nil || len(page.Rows) != 1 || other.Secrets.IndexedOrgs() != 1 {
		t.Fatalf("before: %d rows, %d indexes, %v", len(page.Rows), other.Secrets.IndexedOrgs(), err)
	}
	erased, err := r.h.EraseOrganization.Handle(ctx, r.owner, commands.EraseOrganization{OrgID: r.orgID, Confirm: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, erased.Seq)
	page, err = other.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, projections.SecretFilter{})
	if err != nil || !domain.IsCode(page.OrgErr, domain.CodeNotFound) || len(page.Rows) != 0 {
		t.Fatalf("after the erasure: %+v, %v", page, err)
	}
	if n := other.Secrets.IndexedOrgs(); n != 0 {
		t.Fatalf("the other replica still holds %d indexes", n)
	}
}

func gridNames(rows []projections.GridRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Name()
	}
	return out
}

// A reader's rendering of a row (KeepView) stays with the row for every later page,
// whoever asks, and for a read of that one secret, so that an unchanged row is
// rendered once; a change of the secret drops it (the row is new), and only its.
func TestKeptViewsLastAsLongAsTheRow(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"KEPT_A", "KEPT_B"} {
		res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		r.wait(t, res.Seq)
		ids = append(ids, res.ID)
	}
	views := func(userID string) []string {
		t.Helper()
		page, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, userID, projections.SecretFilter{})
		if err != nil || len(page.Rows) != 2 {
			t.Fatalf("page %+v, %v", page, err)
		}
		out := make([]string, len(page.Rows))
		for i, g := range page.Rows {
			out[i] = string(g.View())
		}
		return out
	}
	if got := views(r.owner.UserID); !slices.Equal(got, []string{"", ""}) {
		t.Fatalf("views before any was kept: %q", got)
	}
	page, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, projections.SecretFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range page.Rows {
		g.KeepView([]byte("view of " + g.Name()))
	}
	want := []string{"view of KEPT_A", "view of KEPT_B"}
	if got := views(r.owner.UserID); !slices.Equal(got, want) {
		t.Fatalf("views on the next page: %q", got)
	}
	if got := views("00000000-0000-4000-8000-000000000001"); !slices.Equal(got, want) {
		t.Fatalf("views on another caller's page: %q", got)
	}
	one, err := r.db.Secrets.SecretAccess(ctx, r.orgID, r.owner.UserID, ids[1])
	if err != nil || string(one.Secret.View()) != want[1] {
		t.Fatalf("one secret's view %q, %v", one.Secret.View(), err)
	}
	description := "changed"
	res, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: ids[0], Description: &description})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, res.Seq)
	if got := views(r.owner.UserID); !slices.Equal(got, []string{"", want[1]}) {
		t.Fatalf("views after KEPT_A changed: %q", got)
	}
}

// The rows of a q= page neither keep a view nor read one (see GridRow.View): searches
// go all over an organization, and the budget is left to pages in name order.
func TestSearchPagesKeepNoViews(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	for _, name := range []string{"KEPT_A", "KEPT_B"} {
		res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		r.wait(t, res.Seq)
	}
	page := func(q string) []projections.GridRow {
		t.Helper()
		page, err := r.db.Secrets.SecretPageAt(ctx, r.orgID, r.owner.UserID, projections.SecretFilter{Q: q})
		if err != nil || len(page.Rows) != 2 {
			t.Fatalf("page q=%q: %+v, %v", q, page, err)
		}
		return page.Rows
	}
	views := func(rows []projections.GridRow) []string {
		out := make([]string, len(rows))
		for i, g := range rows {
			out[i] = string(g.View())
		}
		return out
	}
	for _, q := range []string{"kept_", "KE"} {
		for _, g := range page(q) {
			g.KeepView([]byte("view of " + g.Name()))
		}
	}
	if got := views(page("")); !slices.Equal(got, []string{"", ""}) {
		t.Fatalf("views kept by q= pages: %q", got)
	}
	for _, g := range page("") {
		g.KeepView([]byte("view of " + g.Name()))
	}
	if got := views(page("")); !slices.Equal(got, []string{"view of KEPT_A", "view of KEPT_B"}) {
		t.Fatalf("views kept by a page in name order: %q", got)
	}
	if got := views(page("KEPT")); !slices.Equal(got, []string{"", ""}) {
		t.Fatalf("views read by a q= page: %q", got)
	}
}

// checkGridFields checks that a GridRow's methods read what its Row() holds (readers
// render rows from either).
func checkGridFields(t *testing.T, g projections.GridRow) {
	t.Helper()
	r := g.Row()
	if g.ID() != r.ID || g.Name() != r.Name || g.Description() != r.Description || g.Owner() != r.Owner ||
		!g.CreatedAt().Equal(r.CreatedAt) || !g.UpdatedAt().Equal(r.UpdatedAt) || g.Version() != r.Version || g.OwnerID() != r.Owner.ID {
		t.Fatalf("GridRow %s reads other fields than its Row() %+v", g.ID(), r)
	}
	for _, env := range domain.Environments() {
		if got, want := g.Env(env), r.Environments[env]; got.Set != want.Set || got.Version != want.Version || got.Mask != want.Mask || !got.UpdatedAt.Equal(want.UpdatedAt) {
			t.Fatalf("GridRow %s in %s: %+v, Row() has %+v", g.ID(), env, got, want)
		}
	}
	// Fields, which the API renders grid rows from, reads the same.
	f := g.Fields()
	id, err := uuid.Parse(r.ID)
	if err != nil || f.ID != id || f.Name != r.Name || f.Description != r.Description || f.Owner != r.Owner ||
		!time.Unix(0, f.CreatedAt).Equal(r.CreatedAt) || !time.Unix(0, f.UpdatedAt).Equal(r.UpdatedAt) || f.Version != r.Version {
		t.Fatalf("GridRow %s: Fields() %+v, Row() %+v", g.ID(), f, r)
	}
	for i, env := range projections.GridEnvs() {
		got, want := f.Envs[i], r.Environments[env]
		_, present := r.Environments[env]
		if got.Set != want.Set || got.Version != want.Version || got.Mask != want.Mask ||
			(present && !time.Unix(0, got.UpdatedAt).Equal(want.UpdatedAt)) {
			t.Fatalf("GridRow %s in %s: Fields() %+v, Row() has %+v", g.ID(), env, got, want)
		}
	}
}

// A reader whose snapshot is older than the name index uses the index when nothing it
// holds changed in between (the checkpoint moved on through audit records only), and
// is told to take a newer snapshot only when a secret changed after its own. Before,
// every older snapshot was refused: at a busy organization, values fetches and grid
// pages raced each other's syncs until their retries ran out and answered 500.
func TestAnOlderSnapshotUsesTheNameIndexWhenNothingInItChanged(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	id := r.create(t, "API_KEY", map[domain.Environment]string{domain.Production: "v1"})
	r.wait(t, id.Seq)
	sync := func(seq uint64) (bool, error) {
		t.Helper()
		return r.db.Secrets.NamesAtCheckpoint(ctx, r.orgID, seq)
	}
	if exact, err := sync(id.Seq); err != nil || !exact {
		t.Fatalf("sync at the checkpoint: exact %v, %v", exact, err)
	}
	reveal, err := r.h.RevealSecret.Handle(ctx, r.owner, commands.RevealSecret{OrgID: r.orgID, SecretID: id.ID, Env: domain.Production})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(t, reveal.Seq)
	if exact, err := sync(reveal.Seq); err != nil || !exact {
		t.Fatalf("sync after a reveal: exact %v, %v", exact, err)
	}
	// A reader still at the create's checkpoint: the reveal changed nothing indexed.
	if exact, err := sync(id.Seq); err != nil || exact {
		t.Fatalf("a snapshot older than the index by a reveal: exact %v, %v; want the index, not exact", exact, err)
	}
	other := r.create(t, "OTHER_KEY", nil)
	r.wait(t, other.Seq)
	if _, err := sync(other.Seq); err != nil {
		t.Fatal(err)
	}
	// A reader at the reveal's checkpoint does not see OTHER_KEY: the index does.
	if _, err := sync(reveal.Seq); !errors.Is(err, projections.ErrStaleSnapshot) {
		t.Fatalf("a snapshot older than a create the index holds: %v, want ErrStaleSnapshot", err)
	}
}
