// Command keyledger is the one Keyledger binary: the server (serve), operations
// (migrate, admin create-user, version) and, later, the client commands. Everything is
// wired here by hand; no package keeps global state.
package main

import (
	"context"
	"errors"
	"flag"
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
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
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

const usage = `Usage: keyledger <command> [flags]

Server:
  serve [--dev]              run the API and the dashboard
  migrate                    apply the read-model migrations and exit
  admin create-user          create a platform user (--superadmin for an admin)
  replay --org ID [--until T | --until-seq N] --format json
                             print an org's state at an instant, from the log alone
  audit verify --org ID      recompute the org's audit hash chain from the log
  projections rebuild        rebuild every read model into a fresh schema and switch
  keys rotate --new-master-key-file F
                             wrap every data key again under a new master key
  version                    print the version

` + clientUsage

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr, getenv)
	case "admin":
		return admin(ctx, args[1:], stdout, stderr, getenv)
	case "replay":
		return replay(ctx, args[1:], stdout, stderr, getenv)
	case "audit":
		return auditCmd(ctx, args[1:], stdout, stderr, getenv)
	case "projections":
		return projectionsCmd(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		return keysCmd(ctx, args[1:], stdout, stderr, getenv)
	case "login", "logout", "orgs", "secrets", "export", "run":
		return clientCommand(ctx, args, os.Stdin, stdout, stderr, getenv, os.Exit)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "keyledger", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
