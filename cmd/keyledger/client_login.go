package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/spf13/cobra"
)

// loginOptions are login's flags.
type loginOptions struct {
	server, email, tokenName string
	fromStdin                bool
}

// newLoginCommand is `keyledger login`.
func newLoginCommand(cl cli) *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login --server URL --email E [--password-stdin]",
		Short: "log in and keep a personal access token in the config dir",
		Long: `Log in with your email and password, issue a personal access token named after this
machine, end the password session and keep the server and the token in
$XDG_CONFIG_HOME/keyledger/config.json (0600). The password is read without echo from
the terminal, or as one line of standard input.`,
		GroupID: groupClient,
		Args:    usageArgs("usage: keyledger login --server URL --email E [--password-stdin]"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cl.login(cmd.Context(), o)
		},
	}
	cmd.Flags().SortFlags = false
	cmd.Flags().StringVar(&o.server, "server", "", "server URL (default: KEYLEDGER_SERVER, the login's server, or "+defaultServer+")")
	cmd.Flags().StringVar(&o.email, "email", "", "your email")
	cmd.Flags().BoolVar(&o.fromStdin, "password-stdin", false, "read the password from standard input (one line)")
	cmd.Flags().StringVar(&o.tokenName, "token-name", "", `name of the personal access token (default "keyledger-cli on HOSTNAME")`)
	return cmd
}

// usageArgs refuses positional arguments with a command's usage line.
func usageArgs(usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return errors.New(usage)
		}
		return nil
	}
}

// login logs in with a password, issues a personal access token named after this
// machine, ends the password session and keeps {server, token} in the config dir.
func (cl cli) login(ctx context.Context, o loginOptions) error {
	if o.email == "" {
		return errors.New("--email is required")
	}
	cred, err := resolveCredentials(cl.getenv, o.server)
	if err != nil {
		// An unreadable login file is what this login replaces.
		cred = credentials{Server: cmp.Or(o.server, cl.getenv("KEYLEDGER_SERVER"), defaultServer)}
	}
	password, err := cl.readPassword(o.fromStdin)
	if err != nil {
		return err
	}
	if o.tokenName == "" {
		host, _ := os.Hostname()
		o.tokenName = "keyledger-cli on " + host
	}
	ctx, cancel := context.WithTimeout(ctx, defaultCallTimeout)
	defer cancel()
	anon, err := newAPIClient(cred.Server, "")
	if err != nil {
		return err
	}
	sess, err := anon.Login(ctx, o.email, password)
	if err != nil {
		return err
	}
	user, err := newAPIClient(cred.Server, sess.Token)
	if err != nil {
		return err
	}
	issued, err := user.CreatePersonalToken(ctx, client.CreatePersonalTokenRequest{Name: o.tokenName})
	if err != nil {
		return err
	}
	// The token replaces the session, which would otherwise live on for hours.
	if err := user.Logout(ctx); err != nil {
		fmt.Fprintf(cl.stderr, "keyledger: warning: could not end the login session: %v\n", err)
	}
	prev, prevErr := loadCredentials(cl.getenv)
	path, err := saveCredentials(cl.getenv, credentials{Server: anon.BaseURL(), Token: issued.Token, TokenID: issued.ID, Email: sess.User.Email})
	if err != nil {
		return fmt.Errorf("save the login: %w", err)
	}
	fmt.Fprintf(cl.stdout, "Logged in to %s as %s; token %q saved in %s\n", anon.BaseURL(), sess.User.Email, o.tokenName, path)
	if prevErr == nil && prev.Token != "" && prev.Token != issued.Token {
		cl.revokeReplaced(ctx, prev)
	}
	return nil
}

// revokeReplaced revokes the token of the login that a new one replaced, at the server
// that issued it: forgotten here, it would otherwise go on working (a personal token
// need not expire) with no one holding it. A failure is a warning: the new login
// stands.
func (cl cli) revokeReplaced(ctx context.Context, prev credentials) {
	server := prev.loginServer()
	err := errors.New("the login file does not name it")
	if prev.TokenID != "" {
		var c *client.Client
		if c, err = newAPIClient(server, prev.Token); err == nil {
			err = revokeToken(ctx, c, prev.TokenID)
		}
	}
	if err != nil {
		fmt.Fprintf(cl.stderr, "keyledger: warning: the previous login's token at %s could not be revoked (%v); revoke it there under Settings → Tokens\n", server, err)
	}
}

// readPassword reads the password: from a prompt without echo when standard input is
// a terminal (and --password-stdin is not given), else one line of standard input.
func (cl cli) readPassword(fromStdin bool) (string, error) {
	if f, ok := cl.stdin.(*os.File); ok && !fromStdin && isTerminal(f) {
		fmt.Fprint(cl.stderr, "Password: ")
		pw, err := readPasswordNoEcho(f)
		fmt.Fprintln(cl.stderr)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		return pw, nil
	}
	if cl.stdin == nil {
		return "", errors.New("no password: pass it on standard input with --password-stdin")
	}
	line, err := bufio.NewReader(cl.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}

// newLogoutCommand is `keyledger logout`.
func newLogoutCommand(cl cli) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:     "logout",
		Short:   "revoke the saved token and forget it",
		GroupID: groupClient,
		Args:    usageArgs("usage: keyledger logout"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cl.logout(cmd.Context(), f.server)
		},
	}
	f.addServerFlag(cmd)
	return cmd
}

// logout revokes the saved personal access token and forgets it.
func (cl cli) logout(ctx context.Context, server string) error {
	saved, err := loadCredentials(cl.getenv)
	if err != nil {
		return err
	}
	if saved.Token == "" {
		fmt.Fprintln(cl.stdout, "Not logged in.")
		return nil
	}
	// The token is sent only to the server that issued it.
	if server == "" {
		server = saved.loginServer()
	} else if !sameOrigin(server, saved.loginServer()) {
		return errNoLoginFor(server, saved.loginServer())
	}
	c, err := newAPIClient(server, saved.Token)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, defaultCallTimeout)
	defer cancel()
	if saved.TokenID != "" {
		if err := revokeToken(ctx, c, saved.TokenID); err != nil {
			fmt.Fprintf(cl.stderr, "keyledger: warning: the token could not be revoked (%v); forgetting it here anyway\n", err)
		}
	}
	if err := removeCredentials(cl.getenv); err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "Logged out of %s.\n", c.BaseURL())
	return nil
}

// revokeToken revokes a saved login's personal token through c, a client that sends
// that token. A token the server already refuses (revoked, or expired) counts as
// revoked.
func revokeToken(ctx context.Context, c *client.Client, tokenID string) error {
	err := c.RevokePersonalToken(ctx, tokenID)
	if client.IsCode(err, client.CodeUnauthenticated) {
		return nil
	}
	return err
}
