package main

import (
	"strings"
	"testing"
)

// TestSetOfAnUnchangedValueSaysSo: the server gives a value equal to the current one
// no new version; set used to print "updated" all the same.
func TestSetOfAnUnchangedValueSaysSo(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	a := h.withToken(h.alice.Token)
	a.main(t, "secrets", "set", "API_KEY=one", "--org", "Acme", "--env", "dev").ok(t)
	out := a.main(t, "secrets", "set", "API_KEY=one", "OTHER=x", "--org", "Acme", "--env", "dev").ok(t)
	if out.stdout != "API_KEY: unchanged, development v1\nOTHER: created, development v1\n" {
		t.Errorf("set of the same value printed %q", out.stdout)
	}
	out = a.main(t, "secrets", "set", "API_KEY=two", "--org", "Acme", "--env", "dev").ok(t)
	if out.stdout != "API_KEY: updated, development v2\n" {
		t.Errorf("set of a new value printed %q", out.stdout)
	}
	// A first value in another environment is an update of the secret, not "unchanged".
	out = a.main(t, "secrets", "set", "API_KEY=two", "--org", "Acme", "--env", "prod").ok(t)
	if out.stdout != "API_KEY: updated, production v1\n" {
		t.Errorf("set in a new environment printed %q", out.stdout)
	}
}

// TestListWithAnEnvironmentShowsOnlyItsColumn: `secrets list --env prod` used to show
// every environment's column.
func TestListWithAnEnvironmentShowsOnlyItsColumn(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	h.seed(t)
	a := h.withToken(h.alice.Token)
	got := a.main(t, "secrets", "list", "--org", "Acme", "--env", "prod").ok(t).stdout
	want := "NAME          PRODUCTION  OWNER\n" +
		"DATABASE_URL  v1          alice@example.com\n" +
		"TRICKY        v1          alice@example.com\n"
	if got != want {
		t.Errorf("list --env prod printed\n%s\nwant\n%s", got, want)
	}
	// KEYLEDGER_ENV is --env's variable; the flag wins over it.
	env := a.withToken(h.alice.Token)
	env.vars["KEYLEDGER_ENV"] = "staging"
	got = env.main(t, "secrets", "list", "--org", "Acme").ok(t).stdout
	if !strings.HasPrefix(got, "NAME          STAGING  OWNER\nDATABASE_URL  v1 ") || strings.Contains(got, "TRICKY") {
		t.Errorf("KEYLEDGER_ENV=staging list printed\n%s", got)
	}
	if got = env.main(t, "secrets", "list", "--org", "Acme", "--env", "production").ok(t).stdout; !strings.HasPrefix(got, "NAME          PRODUCTION  OWNER\n") {
		t.Errorf("--env production with KEYLEDGER_ENV=staging printed\n%s", got)
	}
}
