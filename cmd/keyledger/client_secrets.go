package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/spf13/cobra"
)

const secretsUsage = `usage:
  keyledger secrets list --org O [--env E] [--q TEXT]
  keyledger secrets get NAME --org O --env E
  keyledger secrets set NAME=VALUE… --org O --env E   (VALUE "-" reads standard input)
  keyledger secrets delete NAME --org O [--env E]     (without --env: the whole secret)
  keyledger secrets history NAME --org O [--env E]`

// secretsSession is a secrets subcommand's parsed flags and connection.
type secretsSession struct {
	c     *client.Client
	orgID string
	env   string
	args  []string
}

// secretsAction is what one secrets subcommand does once connected.
type secretsAction func(context.Context, secretsSession) error

// newSecretsCommand is `keyledger secrets`.
func newSecretsCommand(cl cli) *cobra.Command {
	var q string
	list := cl.newSecretsSubcommand(secretsSubcommand{
		use: "list --org O [--env E] [--q TEXT]", short: "list the secrets and which environments have a value",
		long: `List the organization's secrets: for each environment whether it has a value and its
version, never the value or its mask. --env lists the secrets with a value in that
environment, and only its column.`,
		envUsage: "only secrets with a value in this environment, and only its column",
		do:       func(ctx context.Context, s secretsSession) error { return s.list(ctx, cl.stdout, q) },
	})
	list.Flags().StringVar(&q, "q", "", "only names containing this text")
	return newGroupCommand("secrets", groupClient, "manage secrets",
		list,
		cl.newSecretsSubcommand(secretsSubcommand{
			use: "get NAME --org O --env E", short: "print a secret's value in an environment",
			needEnv: true, checkArgs: checkOneName,
			do: func(ctx context.Context, s secretsSession) error { return s.get(ctx, cl.stdout) },
		}),
		cl.newSecretsSubcommand(secretsSubcommand{
			use: "set NAME=VALUE… --org O --env E", short: "create secrets or set their values",
			long: `Create each named secret, or set its value in the environment. A VALUE of "-" is read
from standard input (without its last newline), so that it stays out of the shell's
history. A value equal to the current one is not a new version: set says "unchanged".`,
			needEnv: true, checkArgs: checkAssignmentNames,
			do: func(ctx context.Context, s secretsSession) error { return s.set(ctx, cl.stdin, cl.stdout) },
		}),
		cl.newSecretsSubcommand(secretsSubcommand{
			use: "delete NAME --org O [--env E]", short: "delete a secret, or only its value in an environment",
			envUsage:  "delete only the value in this environment (default: the whole secret)",
			checkArgs: checkOneName,
			do:        func(ctx context.Context, s secretsSession) error { return s.delete(ctx, cl.stdout) },
		}),
		cl.newSecretsSubcommand(secretsSubcommand{
			use: "history NAME --org O [--env E]", short: "list a secret's versions",
			envUsage:  "only this environment's versions",
			checkArgs: checkOneName,
			do:        func(ctx context.Context, s secretsSession) error { return s.history(ctx, cl.stdout) },
		}),
	)
}

// secretsSubcommand describes one secrets subcommand.
type secretsSubcommand struct {
	use, short, long string
	// envUsage is --env's help when the environment is optional.
	envUsage string
	needEnv  bool
	// checkArgs, when set, checks the arguments (the names) before any request.
	checkArgs func([]string) error
	do        secretsAction
}

// newSecretsSubcommand makes a secrets subcommand: it takes --server, --org and --env,
// connects, resolves the organization and runs d.do within the call timeout.
func (cl cli) newSecretsSubcommand(d secretsSubcommand) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   d.use,
		Short: d.short,
		Long:  d.long,
		// The subcommands check their own arguments, with the usage of all of them.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), defaultCallTimeout)
			defer cancel()
			if d.checkArgs != nil {
				if err := d.checkArgs(args); err != nil {
					return err
				}
			}
			session, err := cl.openSecrets(ctx, f.server, f.org, f.env, d.needEnv, args)
			if err != nil {
				return err
			}
			return d.do(ctx, session)
		},
	}
	f.addServerFlag(cmd)
	f.addOrgFlag(cmd, cl)
	envUsage := d.envUsage
	if d.needEnv {
		envUsage = "environment: development, staging or production (or dev, stg, prod)"
	}
	f.addEnvFlag(cmd, envUsage)
	return cmd
}

func (cl cli) openSecrets(ctx context.Context, server, org, env string, needEnv bool, args []string) (secretsSession, error) {
	slug, err := optionalEnvironment(env)
	if needEnv && slug == "" {
		slug, err = environmentSlug(env)
	}
	if err != nil {
		return secretsSession{}, err
	}
	c, orgID, err := cl.connectOrg(ctx, server, org)
	if err != nil {
		return secretsSession{}, err
	}
	return secretsSession{c: c, orgID: orgID, env: slug, args: args}, nil
}

// oneName is the single NAME argument of get, delete and history, checked and
// normalized.
func (s secretsSession) oneName() (string, error) { return oneNameArg(s.args) }

func oneNameArg(args []string) (string, error) {
	if len(args) != 1 {
		return "", errors.New(secretsUsage)
	}
	return parseSecretName(args[0])
}

// checkOneName checks the NAME argument of get, delete and history.
func checkOneName(args []string) error {
	_, err := oneNameArg(args)
	return err
}

// parseSecretName checks a name as the server does (domain.ParseSecretName: trimmed,
// upper-cased, ^[A-Z_][A-Z0-9_]{0,127}$) and returns it normalized, so that a name
// the server would refuse is refused before any request, in the name's terms rather
// than in those of the lookup's query parameter (q). The name is quoted in the error,
// so that a byte that is not UTF-8 or a control character prints as an escape; a
// name longer than any valid one is not repeated at all.
func parseSecretName(raw string) (string, error) {
	n, err := domain.ParseSecretName(raw)
	if err == nil {
		return string(n), nil
	}
	msg := err.Error()
	var de *domain.Error
	if errors.As(err, &de) && len(de.Fields) == 1 {
		msg = de.Fields[0].Message
	}
	if len(strings.TrimSpace(raw)) > domain.MaxSecretNameLength {
		return "", fmt.Errorf("secret name: %s", msg)
	}
	return "", fmt.Errorf("secret name %q: %s", raw, msg)
}

// findSecrets looks the named secrets up; names without a secret are absent.
func (s secretsSession) findSecrets(ctx context.Context, names []string) (map[string]client.Secret, error) {
	filter := client.SecretFilter{Limit: 1000}
	if len(names) == 1 {
		filter.Q = names[0]
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	found := map[string]client.Secret{}
	for sec, err := range s.c.AllSecrets(ctx, s.orgID, filter) {
		if err != nil {
			return nil, err
		}
		if want[sec.Name] {
			found[sec.Name] = sec
		}
	}
	return found, nil
}

// theSecret is the one secret the command names.
func (s secretsSession) theSecret(ctx context.Context) (client.Secret, error) {
	name, err := s.oneName()
	if err != nil {
		return client.Secret{}, err
	}
	return s.findSecret(ctx, name)
}

func (s secretsSession) findSecret(ctx context.Context, name string) (client.Secret, error) {
	found, err := s.findSecrets(ctx, []string{name})
	if err != nil {
		return client.Secret{}, err
	}
	sec, ok := found[name]
	if !ok {
		return client.Secret{}, fmt.Errorf("no secret named %s in this organization", name)
	}
	return sec, nil
}

// list prints a row per secret. With --env only that environment's column is shown:
// the user asked about one environment, and the others' columns would only be noise.
func (s secretsSession) list(ctx context.Context, w io.Writer, q string) error {
	if len(s.args) > 0 {
		return errors.New(secretsUsage)
	}
	envs := []string{client.Development, client.Staging, client.Production}
	if s.env != "" {
		envs = []string{s.env}
	}
	header := []string{"NAME"}
	for _, e := range envs {
		header = append(header, strings.ToUpper(e))
	}
	t := newTable(w, append(header, "OWNER")...)
	for sec, err := range s.c.AllSecrets(ctx, s.orgID, client.SecretFilter{Env: s.env, Q: q, Limit: 1000}) {
		if err != nil {
			return err
		}
		row := []string{sec.Name}
		for _, e := range envs {
			row = append(row, envCell(sec.Environments.Env(e)))
		}
		t.row(append(row, sec.Owner.Email)...)
	}
	return t.flush()
}

// envCell shows whether an environment has a value, and its version: never the mask,
// which a terminal's scrollback would keep.
func envCell(st client.EnvState) string {
	if !st.Set {
		return "-"
	}
	return "v" + strconv.Itoa(st.Version)
}

func (s secretsSession) get(ctx context.Context, w io.Writer) error {
	sec, err := s.theSecret(ctx)
	if err != nil {
		return err
	}
	rev, err := s.c.RevealSecret(ctx, s.orgID, sec.ID, s.env)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, rev.Value)
	return err
}

// assignment is one NAME=VALUE argument of set.
type assignment struct {
	name, value string
}

// assignmentName is the checked, normalized NAME of a NAME=VALUE argument; an error
// never echoes the VALUE.
func assignmentName(arg string) (string, error) {
	name, _, ok := strings.Cut(arg, "=")
	if !ok {
		return "", fmt.Errorf("%q is not NAME=VALUE", arg)
	}
	if strings.TrimSpace(name) == "" {
		// The argument holds a value: never echo it.
		return "", errors.New("an argument of the form =VALUE has no name")
	}
	return parseSecretName(name)
}

// checkAssignmentNames checks the names of set's NAME=VALUE arguments, before
// anything is read or sent.
func checkAssignmentNames(args []string) error {
	if len(args) == 0 {
		return errors.New(secretsUsage)
	}
	for _, a := range args {
		if _, err := assignmentName(a); err != nil {
			return err
		}
	}
	return nil
}

func parseAssignments(args []string, stdin io.Reader) ([]assignment, error) {
	if len(args) == 0 {
		return nil, errors.New(secretsUsage)
	}
	var out []assignment
	seen, readStdin := map[string]bool{}, false
	for _, a := range args {
		name, err := assignmentName(a)
		if err != nil {
			return nil, err
		}
		_, value, _ := strings.Cut(a, "=")
		if seen[name] {
			return nil, fmt.Errorf("%s is given twice", name)
		}
		seen[name] = true
		if value == "-" {
			if readStdin {
				return nil, errors.New(`only one value can come from standard input ("-")`)
			}
			readStdin = true
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("read the value of %s: %w", name, err)
			}
			// `echo value | keyledger secrets set NAME=-` must not store echo's newline.
			v := strings.TrimSuffix(string(b), "\n")
			value = strings.TrimSuffix(v, "\r")
		}
		if !utf8.ValidString(value) {
			// Sent as JSON, each byte that is not UTF-8 would be stored as U+FFFD.
			return nil, fmt.Errorf("the value of %s is not UTF-8 text: Keyledger stores values as text (encode binary data, as base64 for one)", name)
		}
		out = append(out, assignment{name: name, value: value})
	}
	return out, nil
}

func (s secretsSession) set(ctx context.Context, stdin io.Reader, w io.Writer) error {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	as, err := parseAssignments(s.args, stdin)
	if err != nil {
		return err
	}
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.name
	}
	existing, err := s.findSecrets(ctx, names)
	if err != nil {
		return err
	}
	for _, a := range as {
		before, ok := existing[a.name]
		var after client.Secret
		verb := "created"
		if ok {
			after, err = s.update(ctx, before.ID, a.value)
			verb = updateVerb(before, after, s.env)
		} else {
			after, err = s.c.CreateSecret(ctx, s.orgID, client.CreateSecretRequest{Name: a.name, Values: map[string]string{s.env: a.value}})
			if client.IsCode(err, client.CodeSecretNameTaken) {
				// Someone created it in the meantime: set its value instead.
				before, after, err = s.updateByName(ctx, a.name, a.value)
				verb = updateVerb(before, after, s.env)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		fmt.Fprintf(w, "%s: %s, %s %s\n", after.Name, verb, s.env, envCell(after.Environments.Env(s.env)))
	}
	return nil
}

// updateVerb says what an update did to env's value, from the server's answer: the
// server gives a value equal to the current one no new version, and saying "updated"
// then would send the user looking for a change that never happened.
func updateVerb(before, after client.Secret, env string) string {
	was, is := before.Environments.Env(env), after.Environments.Env(env)
	if was.Set && is.Set && was.Version == is.Version {
		return "unchanged"
	}
	return "updated"
}

func (s secretsSession) update(ctx context.Context, id, value string) (client.Secret, error) {
	return s.c.UpdateSecret(ctx, s.orgID, id, client.UpdateSecretRequest{Values: map[string]*string{s.env: &value}})
}

// updateByName sets the value of the secret named name; it returns the secret as found
// before the update and as the server answered it.
func (s secretsSession) updateByName(ctx context.Context, name, value string) (before, after client.Secret, err error) {
	before, err = s.findSecret(ctx, name)
	if err != nil {
		return before, after, err
	}
	after, err = s.update(ctx, before.ID, value)
	return before, after, err
}

func (s secretsSession) delete(ctx context.Context, w io.Writer) error {
	sec, err := s.theSecret(ctx)
	if err != nil {
		return err
	}
	if err := s.c.DeleteSecret(ctx, s.orgID, sec.ID, s.env); err != nil {
		return err
	}
	if s.env == "" {
		fmt.Fprintf(w, "%s: deleted\n", sec.Name)
	} else {
		fmt.Fprintf(w, "%s: value in %s deleted\n", sec.Name, s.env)
	}
	return nil
}

func (s secretsSession) history(ctx context.Context, w io.Writer) error {
	sec, err := s.theSecret(ctx)
	if err != nil {
		return err
	}
	versions, err := s.c.SecretVersions(ctx, s.orgID, sec.ID, s.env)
	if err != nil {
		return err
	}
	t := newTable(w, "ENV", "VERSION", "ACTION", "BY", "AT")
	for _, v := range versions {
		t.row(v.Env, strconv.Itoa(v.Version), v.Action, v.Actor.Email, v.At.UTC().Format(time.RFC3339))
	}
	return t.flush()
}
