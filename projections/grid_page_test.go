package projections_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// A grid page costs what changed, not what the organization holds: after the first
// page has read an organization's rows into the index once, a page reads from Postgres
// only the rows changed since (one here) and opens only their names, in an
// organization of 20 secrets as in one of 400; a deep page, a q= page and a values
// fetch on an unchanged read model read no row and open no name at all. Sort, q, env and deep pages stay correct, across
// creates and deletes made after the index was built.
func TestGridPageCostDoesNotGrowWithTheOrganization(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	cost := func(orgID string, n int) [2]projections.GridCost {
		t.Helper()
		org, err := r.h.CreateOrganization.Handle(ctx, r.owner, commands.CreateOrganization{Name: fmt.Sprint("Org ", n)})
		if err != nil {
			t.Fatal(err)
		}
		var last uint64
		for i := range n {
			// Names out of order, so that sorting is exercised.
			res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: org.ID, Name: fmt.Sprintf("KEY_%04d", (i*7919)%n),
				Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext("v")}})
			if err != nil {
				t.Fatal(err)
			}
			last = res.Seq
		}
		r.wait(t, last)
		if _, _, err := r.db.Secrets.ListSecrets(ctx, org.ID, projections.SecretFilter{Limit: 10}); err != nil {
			t.Fatal(err)
		}
		res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: org.ID, Name: "AAA_NEW"})
		if err != nil {
			t.Fatal(err)
		}
		r.wait(t, res.Seq)
		before := r.db.Secrets.GridCost()
		rows, next, err := r.db.Secrets.ListSecrets(ctx, org.ID, projections.SecretFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 10 || rows[0].Name != "AAA_NEW" || rows[1].Name != "KEY_0000" || next == "" {
			t.Fatalf("first page %v, next %q", names(rows), next)
		}
		after := r.db.Secrets.GridCost()
		first := projections.GridCost{NamesOpened: after.NamesOpened - before.NamesOpened, RowsRead: after.RowsRead - before.RowsRead}

		// A deep page (half-way through), a q= page and a values fetch open no name
		// again and read no grid row.
		_, mid, err := r.db.Secrets.ListSecrets(ctx, org.ID, projections.SecretFilter{Limit: n / 2})
		if err != nil {
			t.Fatal(err)
		}
		before = r.db.Secrets.GridCost()
		deep, _, err := r.db.Secrets.ListSecrets(ctx, org.ID, projections.SecretFilter{Limit: 10, Cursor: mid})
		if err != nil {
			t.Fatal(err)
		}
		if len(deep) != 10 || deep[0].Name != fmt.Sprintf("KEY_%04d", n/2-1) {
			t.Fatalf("deep page %v", names(deep))
		}
		examined := r.db.Secrets.GridCost().NamesExamined
		search, _, err := r.db.Secrets.ListSecrets(ctx, org.ID, projections.SecretFilter{Limit: 10, Q: "_001"})
		if err != nil {
			t.Fatal(err)
		}
		if len(search) != 10 || search[0].Name != "KEY_0010" || search[9].Name != "KEY_0019" {
			t.Fatalf("q= page %v", names(search))
		}
		// The names holding "001": KEY_0001 and KEY_0010 to KEY_0019, in both orgs.
		if got := r.db.Secrets.GridCost().NamesExamined - examined; got != 11 {
			t.Fatalf("a q= page in an org of %d examined %d names of the index, want the 11 that hold its rarest trigram", n, got)
		}
		values, _, err := r.db.Secrets.SealedValues(ctx, org.ID, domain.Production)
		if err != nil {
			t.Fatal(err)
		}
		if len(values) != n || values[0].Name != "KEY_0000" || values[n-1].Name != domain.SecretName(fmt.Sprintf("KEY_%04d", n-1)) {
			t.Fatalf("values fetch: %d values", len(values))
		}
		after = r.db.Secrets.GridCost()
		more := projections.GridCost{NamesOpened: after.NamesOpened - before.NamesOpened, RowsRead: after.RowsRead - before.RowsRead}
		return [2]projections.GridCost{first, more}
	}
	small, large := cost("small", 20), cost("large", 400)
	if small != large || small[0].NamesOpened != 1 || small[0].RowsRead != 1 {
		t.Fatalf("a page of 10 after one create cost %+v in an org of 20 and %+v in an org of 400; want 1 name opened and 1 row read in both", small[0], large[0])
	}
	if small[1].NamesOpened != 0 || small[1].RowsRead != 0 {
		t.Fatalf("a deep page, a q= page and a values fetch cost %+v in an org of 20 and %+v in an org of 400; want no name opened and no row read in both", small[1], large[1])
	}
}

func names(rows []projections.SecretRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Name
	}
	return out
}

// The index answers exactly what a scan of every secret would: every page in order,
// with q and env filters, after creates, value changes and deletes.
func TestGridPagesMatchAFullScan(t *testing.T) {
	t.Parallel()
	r := newRig(t, true)
	ctx := context.Background()
	want := map[string][]domain.Environment{}
	ids := map[string]string{}
	var last uint64
	for i := range 60 {
		name := fmt.Sprintf("%s_%02d", []string{"STRIPE", "DB", "AWS_KEY", "A_B"}[i%4], (i*37)%60)
		envs := []domain.Environment{domain.Development, domain.Staging, domain.Production}[:1+i%3]
		vals := map[domain.Environment]domain.Plaintext{}
		for _, e := range envs {
			vals[e] = domain.NewPlaintext("v")
		}
		res, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: name, Values: vals})
		if err != nil {
			t.Fatal(err)
		}
		want[name], ids[name], last = envs, res.ID, res.Seq
	}
	r.wait(t, last)
	check := func(stage string) {
		t.Helper()
		for _, f := range []projections.SecretFilter{{Limit: 7}, {Limit: 7, Q: "b_"}, {Limit: 5, Env: domain.Staging}, {Limit: 3, Q: "key", Env: domain.Production}, {Limit: 4, Q: "ripe_1"}, {Limit: 2, Q: "_B_", Env: domain.Development}, {Limit: 5, Q: "none_such"}} {
			var expect []string
			for name, envs := range want {
				if (f.Q == "" || strings.Contains(name, strings.ToUpper(f.Q))) && (f.Env == "" || slices.Contains(envs, f.Env)) {
					expect = append(expect, name)
				}
			}
			slices.Sort(expect)
			var got []string
			f.Cursor = ""
			for {
				rows, next, err := r.db.Secrets.ListSecrets(ctx, r.orgID, f)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, names(rows)...)
				if next == "" {
					break
				}
				f.Cursor = next
			}
			if !slices.Equal(got, expect) {
				t.Fatalf("%s, filter %+v:\n got %v\nwant %v", stage, f, got, expect)
			}
		}
	}
	check("after creating")
	// Change the index after it was built: delete one, remove a value of another, set
	// a value of a third, create one.
	var all []string
	for name := range want {
		all = append(all, name)
	}
	slices.Sort(all)
	deleted := all[3]
	if _, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: ids[deleted]}); err != nil {
		t.Fatal(err)
	}
	delete(want, deleted)
	prod, stg := domain.Production, domain.Staging
	withProd := all[slices.IndexFunc(all, func(n string) bool { return n != deleted && slices.Contains(want[n], prod) })]
	if _, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: ids[withProd], Env: &prod}); err != nil {
		t.Fatal(err)
	}
	want[withProd] = slices.DeleteFunc(slices.Clone(want[withProd]), func(e domain.Environment) bool { return e == prod })
	noStaging := all[slices.IndexFunc(all, func(n string) bool { return n != deleted && !slices.Contains(want[n], stg) })]
	v := domain.NewPlaintext("now set")
	res, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: ids[noStaging],
		Values: map[domain.Environment]*domain.Plaintext{stg: &v}})
	if err != nil {
		t.Fatal(err)
	}
	want[noStaging] = append(want[noStaging], stg)
	created, err := r.h.CreateSecret.Handle(ctx, r.owner, commands.CreateSecret{OrgID: r.orgID, Name: "DB_NEW"})
	if err != nil {
		t.Fatal(err)
	}
	want["DB_NEW"] = nil
	r.wait(t, max(res.Seq, created.Seq))
	check("after changes")
}
