package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
)

// admin runs platform administration subcommands against the event log directly.
func admin(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "create-user" {
		return errors.New("usage: keyledger admin create-user --email E --name N [--password P | --password-stdin] [--superadmin]")
	}
	fs, c := serverFlags("admin create-user", stderr, getenv)
	email := fs.String("email", "", "the user's email")
	name := fs.String("name", "", "the user's name")
	password := fs.String("password", "", "the password (prefer --password-stdin)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	superadmin := fs.Bool("superadmin", false, "make the user a platform super-admin")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	pw := *password
	if *fromStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if *email == "" || pw == "" {
		return errors.New("--email and a password are required")
	}
	if *name == "" {
		*name = strings.SplitN(*email, "@", 2)[0]
	}
	p, err := openPlatform(ctx, c, newLogger(c.LogLevel, stderr))
	if err != nil {
		return err
	}
	defer p.close()
	res, err := p.handlers.RegisterUser.Handle(ctx, commands.Meta{Actor: domain.Actor{UserAgent: "keyledger-cli"}},
		commands.RegisterUser{Email: *email, Name: *name, Password: domain.NewPlaintext(pw), Superadmin: *superadmin})
	if err != nil {
		return err
	}
	kind := "user"
	if *superadmin {
		kind = "super-admin"
	}
	fmt.Fprintf(stdout, "created %s %s (%s)\n", kind, *email, res.ID)
	return nil
}
