package main

import "testing"

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
