package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Command groups of the root's help.
const (
	groupServer = "server"
	groupClient = "client"
)

// newRootCommand builds keyledger's command tree. Every command reads and writes
// through cl, so that a test runs the whole tree with its own streams, variables and
// exit; nothing is registered globally.
func newRootCommand(cl cli) *cobra.Command {
	root := &cobra.Command{
		Use:   "keyledger",
		Short: "Keyledger keeps an organization's secrets in an append-only, audited log",
		Long: `Keyledger keeps an organization's secrets in an append-only, audited log.

One binary: the server commands run and operate a Keyledger server; the client commands
talk to one over HTTP, with the saved login or KEYLEDGER_TOKEN and KEYLEDGER_SERVER.
Every server flag has a KEYLEDGER_ variable with the same meaning (--data-dir,
KEYLEDGER_DATA_DIR); a flag given on the command line wins.`,
		Version: version,
		// Suggest a command within two typos ("sevre" → serve).
		SuggestionsMinimumDistance: 2,
		// Errors are printed once, by main, on one line; a failed command does not
		// bury its reason under the usage.
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cl.stderr, cmd.UsageString())
			return errors.New("no command given")
		},
		// Variables are read after parsing, for the command that runs, so that a flag
		// given on the command line wins over its variable.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags(), cl.getenv)
		},
	}
	root.SetIn(cl.stdin)
	root.SetOut(cl.stdout)
	root.SetErr(cl.stderr)
	root.SetVersionTemplate("keyledger {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see `%s --help`)", err, cmd.CommandPath())
	})
	root.AddGroup(
		&cobra.Group{ID: groupServer, Title: "Server commands:"},
		&cobra.Group{ID: groupClient, Title: "Client commands (talk to a server over HTTP):"},
	)
	root.AddCommand(
		newServeCommand(cl),
		newMigrateCommand(cl),
		newAdminCommand(cl),
		newReplayCommand(cl),
		newAuditCommand(cl),
		newProjectionsCommand(cl),
		newKeysCommand(cl),
		newBenchCommand(cl),
		newVersionCommand(cl),
		newLoginCommand(cl),
		newLogoutCommand(cl),
		newOrgsCommand(cl),
		newSecretsCommand(cl),
		newAccessCommand(cl),
		newExportCommand(cl),
		newRunCommand(cl),
	)
	return root
}

// unknownCommand refuses arguments that name no command, with the usage on stderr
// and a suggestion when one is close.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
	return fmt.Errorf("unknown command %q%s", args[0], suggestion(cmd, args[0]))
}

func suggestion(cmd *cobra.Command, typed string) string {
	if s := cmd.SuggestionsFor(typed); len(s) > 0 {
		return fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return ""
}

// newGroupCommand makes a command that only holds subcommands (secrets, admin, …).
// Without a subcommand, or with an unknown one, it prints its usage and fails, as
// the hand-written dispatch did: a typo must not exit 0.
func newGroupCommand(use, group, short string, subs ...*cobra.Command) *cobra.Command {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.Name()
	}
	g := &cobra.Command{
		Use:                        use,
		Short:                      short,
		GroupID:                    group,
		DisableFlagsInUseLine:      true,
		SuggestionsMinimumDistance: 2,
		Args:                       cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			if len(args) == 0 {
				return fmt.Errorf("%s needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
			}
			return fmt.Errorf("unknown %s command %q%s", use, args[0], suggestion(cmd, args[0]))
		},
	}
	g.AddCommand(subs...)
	return g
}

// addFlags puts fs on cmd, in the order declared (the important flags first).
func addFlags(cmd *cobra.Command, fs *pflag.FlagSet) {
	cmd.Flags().SortFlags = false
	cmd.Flags().AddFlagSet(fs)
}

// completeWith makes the shell complete flag with one of values.
func completeWith(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// completeServerFlags offers the fixed values of the server flags that have them.
func completeServerFlags(cmd *cobra.Command) {
	completeWith(cmd, "log-level", "debug", "info", "warn", "error")
	completeWith(cmd, "signup", "open", "closed")
	completeWith(cmd, "behind-tls-proxy", "true", "false")
	_ = cmd.MarkFlagDirname("data-dir")
}

// newVersionCommand prints the version, as --version does.
func newVersionCommand(cl cli) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "print the version",
		GroupID: groupServer,
		// Extra words were ignored before the command tree; they still are.
		Args: cobra.ArbitraryArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(cl.stdout, "keyledger", version)
			return err
		},
	}
}
