package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/spf13/cobra"
)

// newAdminCommand is `keyledger admin`: platform administration against the event log
// directly.
func newAdminCommand(cl cli) *cobra.Command {
	return newGroupCommand("admin", groupServer, "platform administration against the event log directly",
		newCreateUserCommand(cl))
}

// createUserOptions are the flags of `admin create-user` besides the server's.
type createUserOptions struct {
	email, name, password string
	fromStdin, superadmin bool
}

func newCreateUserCommand(cl cli) *cobra.Command {
	fs, c := offlineFlags("admin create-user", cl.stderr, cl.getenv)
	var o createUserOptions
	cmd := &cobra.Command{
		Use:   "create-user --email E [--name N] [--password-stdin] [--superadmin]",
		Short: "create a platform user (--superadmin for an admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return createUser(cmd.Context(), c, o, cl)
		},
	}
	cmd.Flags().StringVar(&o.email, "email", "", "the user's email")
	cmd.Flags().StringVar(&o.name, "name", "", "the user's name (default: the email's local part)")
	cmd.Flags().StringVar(&o.password, "password", "", "the password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&o.fromStdin, "password-stdin", false, "read the password from standard input")
	cmd.Flags().BoolVar(&o.superadmin, "superadmin", false, "make the user a platform super-admin")
	addFlags(cmd, fs)
	completeServerFlags(cmd)
	return cmd
}

// createUser registers a user directly in the log.
func createUser(ctx context.Context, c *config, o createUserOptions, cl cli) error {
	if err := c.finish(); err != nil {
		return err
	}
	pw := o.password
	if o.fromStdin {
		if cl.stdin == nil {
			return errors.New("--password-stdin: no standard input")
		}
		line, err := bufio.NewReader(cl.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if o.email == "" || pw == "" {
		return errors.New("--email and a password are required")
	}
	if o.name == "" {
		o.name = strings.SplitN(o.email, "@", 2)[0]
	}
	p, err := openPlatform(ctx, c, newLogger(c.LogLevel, cl.stderr))
	if err != nil {
		return err
	}
	defer p.close()
	res, err := p.handlers.RegisterUser.Handle(ctx, commands.Meta{Actor: domain.Actor{UserAgent: "keyledger-cli"}},
		commands.RegisterUser{Email: o.email, Name: o.name, Password: domain.NewPlaintext(pw), Superadmin: o.superadmin})
	if err != nil {
		return err
	}
	kind := "user"
	if o.superadmin {
		kind = "super-admin"
	}
	fmt.Fprintf(cl.stdout, "created %s %s (%s)\n", kind, o.email, res.ID)
	return nil
}
