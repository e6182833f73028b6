package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/spf13/cobra"
)

// defaultServer is the server the client commands talk to without a login or
// KEYLEDGER_SERVER.
const defaultServer = "http://127.0.0.1:8080"

// defaultCallTimeout bounds one client command's calls to the server.
const defaultCallTimeout = 30 * time.Second

// cli is what a command reads and writes. Standard input, the variables and the
// process's exit are passed in, not taken from the os package, so that tests can feed
// and watch them.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// exit ends the process with a child's exit code (os.Exit; tests pass a recorder):
	// a wrapper such as `keyledger run` must pass its child's code through.
	exit func(int)
}

// clientCommand runs a command line (a client command, as tests use it) through the
// command tree with the given standard input and exit.
func clientCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, exit func(int)) error {
	return execute(ctx, cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, exit: exit}, args)
}

// clientFlags are the flags that client commands share.
type clientFlags struct {
	server, org, env string
}

// addServerFlag declares --server, which every client command takes.
func (f *clientFlags) addServerFlag(cmd *cobra.Command) {
	cmd.Flags().SortFlags = false
	cmd.Flags().StringVar(&f.server, "server", "", "server URL (default: KEYLEDGER_SERVER, the login's server, or "+defaultServer+")")
}

// addOrgFlag declares --org, set by KEYLEDGER_ORG when not given.
func (f *clientFlags) addOrgFlag(cmd *cobra.Command, cl cli) {
	cmd.Flags().StringVar(&f.org, "org", "", "organization name or id")
	withEnv(cmd.Flags(), "org", "KEYLEDGER_ORG")
	_ = cmd.RegisterFlagCompletionFunc("org", cl.completeOrgs)
}

// addEnvFlag declares --env, set by KEYLEDGER_ENV when not given.
func (f *clientFlags) addEnvFlag(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVar(&f.env, "env", "", usage)
	withEnv(cmd.Flags(), "env", "KEYLEDGER_ENV")
	completeWith(cmd, "env", client.Development, client.Staging, client.Production)
}

// completeOrgs offers the names of the caller's organizations when the shell
// completes --org (a service token's: its one organization); without a login it offers
// nothing.
func (cl cli) completeOrgs(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	server, _ := cmd.Flags().GetString("server")
	c, cred, err := cl.connect(server)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
	defer cancel()
	if commands.IsServiceToken(cred.Token) {
		self, err := c.CurrentServiceToken(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return []cobra.Completion{cobra.CompletionWithDesc(self.OrgName, self.OrgID)}, cobra.ShellCompDirectiveNoFileComp
	}
	orgs, err := c.ListOrgs(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]cobra.Completion, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, cobra.CompletionWithDesc(o.Name, o.ID))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// connectOrg connects to the server and resolves the --org flag (a name or an id) to
// the organization's id: the start of every client command that works on one org.
func (cl cli) connectOrg(ctx context.Context, serverFlag, org string) (*client.Client, string, error) {
	c, cred, err := cl.connect(serverFlag)
	if err != nil {
		return nil, "", err
	}
	orgID, err := resolveOrg(ctx, c, org, cred.Token)
	return c, orgID, err
}

// connect returns a client for the resolved server and token.
func (cl cli) connect(serverFlag string) (*client.Client, credentials, error) {
	cred, err := resolveCredentials(cl.getenv, serverFlag)
	if err != nil {
		return nil, cred, err
	}
	if cred.Token == "" && cred.otherLogin != "" {
		return nil, cred, errNoLoginFor(cred.Server, cred.otherLogin)
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

// resolveOrg turns --org (an id or a name) into an organization id. An id is used as
// it is, without a round trip. A name is looked up: with a login or a personal token
// among the caller's organizations (GET /orgs); with a service token, which belongs to
// exactly one organization, in what GET /me says of the token, so that
// `KEYLEDGER_TOKEN=kl_st_… keyledger run --org Acme` works as it does for Doppler's and
// Infisical's service tokens. A name is matched exactly, else without regard to case.
func resolveOrg(ctx context.Context, c *client.Client, org, token string) (string, error) {
	org = strings.TrimSpace(org)
	if org == "" {
		return "", errors.New("--org is required (an organization id or name)")
	}
	if _, err := uuid.Parse(org); err == nil {
		return org, nil
	}
	if commands.IsServiceToken(token) {
		return serviceTokenOrg(ctx, c, org)
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

// serviceTokenOrg resolves --org by name for a service token: the token's own
// organization when the name is its name, else an error that names the organization
// the token does belong to.
func serviceTokenOrg(ctx context.Context, c *client.Client, org string) (string, error) {
	self, err := c.CurrentServiceToken(ctx)
	if err != nil {
		return "", fmt.Errorf("look up the service token's organization: %w", err)
	}
	if strings.EqualFold(self.OrgName, org) {
		return self.OrgID, nil
	}
	return "", fmt.Errorf("this service token (%s) belongs to the organization %q (id %s), not to %q: "+
		"a service token reads only its own organization; use a token of %q, or set --org to %q",
		self.Name, self.OrgName, self.OrgID, org, org, self.OrgName)
}

// newOrgsCommand is `keyledger orgs [list]`.
func newOrgsCommand(cl cli) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:     "orgs [list]",
		Short:   "list your organizations",
		Long:    "List the organizations you belong to: their ids, names and your role.",
		GroupID: groupClient,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1 && args[0] != "list") {
				return errors.New("usage: keyledger orgs [list]")
			}
			return nil
		},
		ValidArgs: []string{"list"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cl.orgs(cmd.Context(), f.server)
		},
	}
	f.addServerFlag(cmd)
	return cmd
}

// orgs lists the caller's organizations.
func (cl cli) orgs(ctx context.Context, server string) error {
	c, _, err := cl.connect(server)
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
