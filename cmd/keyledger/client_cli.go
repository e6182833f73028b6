package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/httpapi/client"
)

// clientUsage is the part of the usage text about the client commands.
const clientUsage = `Client (talks to a server over HTTP; KEYLEDGER_TOKEN and KEYLEDGER_SERVER override the login):
  login --server URL --email E [--password-stdin]
                             log in and keep a personal access token in the config dir
  logout                     revoke that token and forget it
  orgs                       list your organizations
  secrets list|get|set|delete|history --org O [--env E]
                             manage secrets (set NAME=VALUE…, VALUE - reads stdin)
  export --org O --env E [--format dotenv|json|yaml]
                             print an environment's values
  run --org O --env E [--fallback] -- CMD ARGS…
                             run CMD with the environment's values in its environment
`

// defaultServer is the server the client commands talk to without a login or
// KEYLEDGER_SERVER.
const defaultServer = "http://127.0.0.1:8080"

// defaultCallTimeout bounds one client command's calls to the server.
const defaultCallTimeout = 30 * time.Second

// cli is what a client command reads and writes. Standard input is passed in, not
// taken from os.Stdin, so that tests can feed it.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// clientCommand runs the client commands: login, logout, orgs, secrets, export and
// run. exit ends the process with a child's exit code (os.Exit; tests pass a recorder):
// a wrapper such as `keyledger run` must pass its child's code through.
func clientCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, exit func(int)) error {
	cl := cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	switch args[0] {
	case "login":
		return cl.login(ctx, args[1:])
	case "logout":
		return cl.logout(ctx, args[1:])
	case "orgs":
		return cl.orgs(ctx, args[1:])
	case "secrets":
		return cl.secrets(ctx, args[1:])
	case "export":
		return cl.export(ctx, args[1:])
	case "run":
		code, err := cl.runChild(ctx, args[1:])
		if err != nil {
			return err
		}
		if code != 0 {
			exit(code)
		}
		return nil
	}
	return fmt.Errorf("unknown client command %q", args[0])
}

// newFlags makes a flag set that reports to stderr and knows --server.
func (cl cli) newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(cl.stderr)
	server := fs.String("server", "", "server URL (default: KEYLEDGER_SERVER, the login's server, or "+defaultServer+")")
	return fs, server
}

// parseInterspersed parses flags that may come before, between or after positional
// arguments (`secrets set A=1 --env production B=2`); "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// connect returns a client for the resolved server and token.
func (cl cli) connect(serverFlag string) (*client.Client, credentials, error) {
	cred, err := resolveCredentials(cl.getenv, serverFlag)
	if err != nil {
		return nil, cred, err
	}
	if cred.Token == "" {
		return nil, cred, errors.New("not logged in: run `keyledger login` or set KEYLEDGER_TOKEN")
	}
	c, err := newAPIClient(cred.Server, cred.Token)
	return c, cred, err
}

func newAPIClient(server, token string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent(fmt.Sprintf("keyledger-cli/%s (%s/%s)", version, runtime.GOOS, runtime.GOARCH))}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	return client.New(server, opts...)
}

// environmentSlug accepts an environment's slug or a short name for it.
func environmentSlug(raw string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "development", "dev":
		return client.Development, nil
	case "staging", "stg", "stage":
		return client.Staging, nil
	case "production", "prod", "prd":
		return client.Production, nil
	case "":
		return "", errors.New("--env is required (development, staging or production)")
	}
	return "", fmt.Errorf("unknown environment %q: use development, staging or production", raw)
}

// optionalEnvironment is environmentSlug for flags that may be left out.
func optionalEnvironment(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	return environmentSlug(raw)
}

// orgFlag declares --org, defaulting to KEYLEDGER_ORG.
func (cl cli) orgFlag(fs *flag.FlagSet) *string {
	return fs.String("org", cl.getenv("KEYLEDGER_ORG"), "organization id or name (KEYLEDGER_ORG)")
}

// envFlag declares --env, defaulting to KEYLEDGER_ENV.
func (cl cli) envFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("env", cl.getenv("KEYLEDGER_ENV"), usage+" (KEYLEDGER_ENV)")
}

// resolveOrg turns --org (an id or a name) into an organization id. An id is used as
// it is, without a round trip, so that a service token (which cannot list
// organizations) works with it.
func resolveOrg(ctx context.Context, c *client.Client, org, token string) (string, error) {
	org = strings.TrimSpace(org)
	if org == "" {
		return "", errors.New("--org is required (an organization id or name)")
	}
	if _, err := uuid.Parse(org); err == nil {
		return org, nil
	}
	if strings.HasPrefix(token, "kl_st_") {
		return "", errors.New("with a service token, --org must be the organization's id, not its name")
	}
	orgs, err := c.ListOrgs(ctx)
	if err != nil {
		return "", err
	}
	var folded []client.Org
	for _, o := range orgs {
		if o.Name == org {
			return o.ID, nil
		}
		if strings.EqualFold(o.Name, org) {
			folded = append(folded, o)
		}
	}
	switch len(folded) {
	case 1:
		return folded[0].ID, nil
	case 0:
		return "", fmt.Errorf("you belong to no organization named %q (see `keyledger orgs`)", org)
	}
	return "", fmt.Errorf("several organizations are named %q in different cases: use its id (see `keyledger orgs`)", org)
}

// orgs lists the caller's organizations.
func (cl cli) orgs(ctx context.Context, args []string) error {
	fs, server := cl.newFlags("orgs")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 || (len(rest) == 1 && rest[0] != "list") {
		return errors.New("usage: keyledger orgs [list]")
	}
	c, _, err := cl.connect(*server)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, defaultCallTimeout)
	defer cancel()
	orgs, err := c.ListOrgs(ctx)
	if err != nil {
		return err
	}
	tw := newTable(cl.stdout, "ID", "NAME", "ROLE")
	for _, o := range orgs {
		role := "-"
		if o.Role != nil {
			role = *o.Role
		}
		tw.row(o.ID, o.Name, role)
	}
	return tw.flush()
}
