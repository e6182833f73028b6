// Command keyledger is the one Keyledger binary: the server (serve), operations
// (migrate, admin, replay, audit, projections, keys, version) and the client commands
// (login, logout, orgs, secrets, access, export, run). The command tree (root.go) is built by a
// function for each run; everything is wired here by hand and no package keeps global
// state.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "keyledger:", oneLine(err))
		os.Exit(1)
	}
}

// oneLine renders err on one line: a joined error (errors.Join, a driver's several
// connection attempts) otherwise prints a line per part, and scripts and log
// collectors read the last line of stderr as the reason.
func oneLine(err error) string {
	var b strings.Builder
	for line := range strings.Lines(err.Error()) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			// "failed to connect:" followed by its causes reads on as one sentence.
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// run runs one command line: args without the program's name. Standard input and
// the process's exit are the real ones; the tests that need their own use execute.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return execute(ctx, cli{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: getenv, exit: os.Exit}, args)
}

// execute builds the command tree for cl and runs args through it. The tree is built
// per call, from what cl carries, so that nothing is kept between runs.
func execute(ctx context.Context, cl cli, args []string) error {
	root := newRootCommand(cl)
	// cobra reads os.Args when the arguments are nil: an empty command line must stay
	// empty (and print the usage), in tests too.
	if args == nil {
		args = []string{}
	}
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
