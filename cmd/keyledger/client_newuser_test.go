package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/httpapi/client"
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

// TestServiceTokenOrgByName: a service token takes --org as its organization's name,
// as Doppler's and Infisical's do (the CLI asks GET /me which organization the token
// belongs to); it used to need the id. Another organization's name is refused with an
// error that names the token's own.
func TestServiceTokenOrgByName(t *testing.T) {
	t.Parallel()
	h := newCLIHarness(t)
	h.seed(t)
	h.alice.CreateOrg(t, "Globex")
	issued, err := h.apiClient(t, h.alice.Token).CreateServiceToken(context.Background(), h.org.ID, client.CreateServiceTokenRequest{Name: "ci", Environments: []string{"production"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := h.withToken(issued.Token)
	for _, org := range []string{"Acme", "acme", h.org.ID} {
		if out := svc.cli(t, "", "export", "--org", org, "--env", "production", "--format", "json").ok(t).stdout; !strings.Contains(out, "postgres://prod/db") {
			t.Errorf("export --org %s printed %q", org, out)
		}
	}
	for _, line := range [][]string{
		{"run", "--org", "Globex", "--env", "production", "--", "true"},
		{"export", "--org", "Globex", "--env", "production"},
	} {
		res := svc.cli(t, "", line...)
		res.failed(t, `this service token (ci) belongs to the organization "Acme" (id `+h.org.ID+`), not to "Globex"`)
	}
	// The shell is offered the token's one organization for --org.
	if out := svc.cli(t, "", "__complete", "export", "--org", "").ok(t).stdout; !strings.HasPrefix(out, "Acme\t"+h.org.ID+"\n") {
		t.Errorf("completing --org with a service token offered %q", out)
	}
	// KEYLEDGER_ORG takes the name too.
	svc.vars["KEYLEDGER_ORG"] = "Acme"
	if out := svc.cli(t, "", "export", "--env", "production", "--format", "json").ok(t).stdout; !strings.Contains(out, "postgres://prod/db") {
		t.Errorf("export with KEYLEDGER_ORG printed %q", out)
	}
	// A revoked token is told as the server says it, not as a wrong name.
	if err := h.apiClient(t, h.alice.Token).RevokeServiceToken(context.Background(), h.org.ID, issued.ID); err != nil {
		t.Fatal(err)
	}
	svc.cli(t, "", "export", "--org", "Acme", "--env", "production").failed(t, "invalid, expired or revoked")
}

// TestReadmeServiceTokenExample runs the README's service-token example as a new user
// would paste it, with the token put in (and an organization's id, should the example
// use one). It names the organization (`--org Acme`), which a service token could not
// use before GET /me answered one.
func TestReadmeServiceTokenExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var example []string
	for block := range strings.SplitSeq(string(readme), "```sh\n") {
		body, _, _ := strings.Cut(block, "```")
		if strings.Contains(body, "KEYLEDGER_TOKEN=kl_st_") {
			example = strings.Split(strings.TrimSpace(body), "\n")
			break
		}
	}
	if len(example) == 0 {
		t.Fatal("README.md has no sh example with a service token (KEYLEDGER_TOKEN=kl_st_…)")
	}
	h := newCLIHarness(t)
	h.seed(t)
	issued, err := h.apiClient(t, h.alice.Token).CreateServiceToken(context.Background(), h.org.ID, client.CreateServiceTokenRequest{Name: "ci", Environments: []string{"production"}})
	if err != nil {
		t.Fatal(err)
	}
	svc := h.withToken("")
	// substitute puts the test's token and organization id where the example has
	// placeholders for them.
	substitute := func(value string) string {
		switch {
		case strings.HasPrefix(value, "kl_st_"):
			return issued.Token
		case uuid.Validate(value) == nil:
			return h.org.ID
		}
		return value
	}
	var args []string
	for _, line := range example {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case fields[0] == "export" && len(fields) == 2:
			name, value, _ := strings.Cut(fields[1], "=")
			svc.vars[name] = substitute(value)
		case fields[0] == "keyledger":
			args = fields[1:]
		case strings.Contains(fields[0], "=") && slices.Contains(fields, "keyledger"):
			// VAR=value … keyledger ARGS: the variables for this one command.
			at := slices.Index(fields, "keyledger")
			for _, assign := range fields[:at] {
				name, value, _ := strings.Cut(assign, "=")
				svc.vars[name] = substitute(value)
			}
			args = fields[at+1:]
		default:
			t.Fatalf("the example has a line this test cannot follow: %q", line)
		}
	}
	if len(args) == 0 {
		t.Fatalf("the example runs no keyledger command:\n%s", strings.Join(example, "\n"))
	}
	// The example's program is the user's; `true` stands in for it.
	args[len(args)-1] = "true"
	res := svc.cli(t, "", args...).ok(t)
	if res.code != -1 {
		t.Errorf("the example exited %d", res.code)
	}
}
