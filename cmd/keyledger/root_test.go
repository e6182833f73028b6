package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runLine runs one command line through main's run with the given variables.
func runLine(t *testing.T, vars map[string]string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, &stdout, &stderr, func(k string) string { return vars[k] })
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: -1, err: err}
}

// TestHelpAtEveryLevel: --help answers, on stdout and with success, at the root, on
// every group (`secrets --help` used to answer "unknown secrets command") and on
// every command of the tree.
func TestHelpAtEveryLevel(t *testing.T) {
	t.Parallel()
	lines := [][]string{
		{"--help"}, {"help"}, {"-h"},
		{"secrets", "--help"}, {"secrets", "set", "--help"}, {"help", "secrets", "list"},
		{"admin", "--help"}, {"admin", "create-user", "--help"},
		{"audit", "verify", "--help"}, {"projections", "rebuild", "--help"}, {"keys", "rotate", "--help"},
		{"serve", "--help"}, {"run", "--help"}, {"orgs", "--help"},
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			lines = append(lines, append(strings.Fields(sub.CommandPath())[1:], "--help"))
			walk(sub)
		}
	}
	walk(newRootCommand(cli{getenv: func(string) string { return "" }}))
	for _, line := range lines {
		res := runLine(t, nil, line...)
		if res.err != nil || !strings.Contains(res.stdout, "Usage:") {
			t.Errorf("keyledger %s: %v\nstdout %q\nstderr %q", strings.Join(line, " "), res.err, res.stdout, res.stderr)
		}
	}
}

// TestUnknownCommandsStillFail: a typo exits non-zero, as before the command tree,
// and suggests the command meant.
func TestUnknownCommandsStillFail(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]string{
		"sevre":        `unknown command "sevre" (did you mean "serve"?)`,
		"secrets lsit": `unknown secrets command "lsit" (did you mean "list"?)`,
		"secrets":      "keyledger secrets needs a command",
		"":             "no command given",
		"serve --nope": "unknown flag: --nope",
		"orgs nope":    "usage: keyledger orgs [list]",
	} {
		res := runLine(t, nil, strings.Fields(line)...)
		res.failed(t, want)
	}
	if res := runLine(t, nil, "version"); res.err != nil || res.stdout != "keyledger dev\n" {
		t.Errorf("version: %q, %v", res.stdout, res.err)
	}
	if res := runLine(t, nil, "--version"); res.err != nil || res.stdout != "keyledger dev\n" {
		t.Errorf("--version: %q, %v", res.stdout, res.err)
	}
}

// TestOfflineCommandsListOnlyTheirFlags: replay, audit verify, keys rotate and the
// other commands that serve nothing used to list every serve flag in their help, and
// replay and keys rotate, which read the log alone, --database-url. Those flags stay
// accepted there, hidden, so that no script breaks.
func TestOfflineCommandsListOnlyTheirFlags(t *testing.T) {
	t.Parallel()
	serveOnly := []string{"--addr", "--signup", "--tls-cert", "--tls-key", "--trusted-proxies",
		"--bootstrap-admin-email", "--bootstrap-admin-password", "--changes-max-age", "--behind-tls-proxy"}
	for _, line := range [][]string{
		{"replay"}, {"audit", "verify"}, {"keys", "rotate"}, {"migrate"}, {"admin", "create-user"}, {"projections", "rebuild"},
	} {
		help := runLine(t, nil, append(line, "--help")...).ok(t).stdout
		for _, f := range serveOnly {
			if strings.Contains(help, f) {
				t.Errorf("keyledger %s --help lists %s:\n%s", strings.Join(line, " "), f, help)
			}
		}
		// replay and keys rotate read the log alone and never open PostgreSQL.
		logOnly := line[0] == "replay" || (line[0] == "keys" && line[1] == "rotate")
		if hasDB := strings.Contains(help, "--database-url") && strings.Contains(help, "KEYLEDGER_DATABASE_URL"); hasDB == logOnly {
			t.Errorf("keyledger %s --help: --database-url listed %v, want %v:\n%s", strings.Join(line, " "), hasDB, !logOnly, help)
		}
		cmd, _, err := newRootCommand(cli{getenv: func(string) string { return "" }}).Find(line)
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags([]string{"--addr", "127.0.0.1:1", "--signup", "open", "--database-url", "postgres://x"}); err != nil {
			t.Errorf("keyledger %s no longer accepts serve's flags: %v", strings.Join(line, " "), err)
		}
	}
	serve := runLine(t, nil, "serve", "--help").ok(t).stdout
	for _, f := range serveOnly {
		if !strings.Contains(serve, f) {
			t.Errorf("serve --help lacks %s", f)
		}
	}
}

// TestEveryServeFlagHasItsVariable: each of serve's flags is set by KEYLEDGER_ and its
// name in upper snake case when the command line leaves it out, and the command line
// wins. --replicas and --dev had no variable.
func TestEveryServeFlagHasItsVariable(t *testing.T) {
	t.Parallel()
	// A value from the variable and another from the command line, by the flag's type.
	values := map[string][2]string{"bool": {"true", "false"}, "int": {"3", "5"}, "uint64": {"7", "9"}, "string": {"from-env", "from-flag"}}
	fs, _ := serverFlags("serve", nil, func(string) string { return "" })
	fs.VisitAll(func(f *pflag.Flag) {
		variable := "KEYLEDGER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if got := envVariable(f); got != variable {
			t.Errorf("--%s: variable %q, want %s", f.Name, got, variable)
			return
		}
		pair, ok := values[f.Value.Type()]
		if !ok {
			t.Fatalf("--%s: no test values for type %s", f.Name, f.Value.Type())
		}
		fromEnv, fromFlag := pair[0], pair[1]
		getenv := func(k string) string {
			if k == variable {
				return fromEnv
			}
			return ""
		}
		fs, _ := serverFlags("serve", nil, getenv)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		if err := applyEnv(fs, getenv); err != nil || fs.Lookup(f.Name).Value.String() != fromEnv {
			t.Errorf("%s=%s: --%s is %q (%v)", variable, fromEnv, f.Name, fs.Lookup(f.Name).Value.String(), err)
		}
		fs, _ = serverFlags("serve", nil, getenv)
		if err := fs.Parse([]string{"--" + f.Name + "=" + fromFlag}); err != nil {
			t.Fatal(err)
		}
		if err := applyEnv(fs, getenv); err != nil || fs.Lookup(f.Name).Value.String() != fromFlag {
			t.Errorf("%s=%s --%s=%s: the flag did not win: %q (%v)", variable, fromEnv, f.Name, fromFlag, fs.Lookup(f.Name).Value.String(), err)
		}
	})

	// --replicas through finish, as serve reads it.
	for _, tc := range []struct {
		env  string
		args []string
		want int
		err  string
	}{
		{"", nil, 1, ""},
		{"3", nil, 3, ""},
		{"3", []string{"--replicas", "5"}, 5, ""},
		{"three", nil, 0, `KEYLEDGER_REPLICAS must be a whole number, not "three"`},
	} {
		fs, c := serverFlags("serve", nil, func(k string) string {
			if k == "KEYLEDGER_REPLICAS" {
				return tc.env
			}
			return ""
		})
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := c.finish()
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("KEYLEDGER_REPLICAS=%q: %v, want %q", tc.env, err, tc.err)
		case tc.err == "" && (err != nil || c.Replicas != tc.want):
			t.Errorf("KEYLEDGER_REPLICAS=%q %v: replicas %d (%v), want %d", tc.env, tc.args, c.Replicas, err, tc.want)
		}
	}
}

// TestHelpNeverShowsAVariablesValue: variables used to become the flags' defaults, so
// --help printed the master key and the database URL's password.
func TestHelpNeverShowsAVariablesValue(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"KEYLEDGER_MASTER_KEY":               "master-key-secret-value",
		"KEYLEDGER_DATABASE_URL":             "postgres://u:db-password-secret@h/db",
		"KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD": "bootstrap-secret-value",
	}
	for _, line := range [][]string{{"serve", "--help"}, {"replay", "--help"}, {"keys", "rotate", "--help"}} {
		res := runLine(t, vars, line...).ok(t)
		for name, value := range vars {
			if strings.Contains(res.stdout+res.stderr, value) {
				t.Errorf("keyledger %s printed %s's value:\n%s", strings.Join(line, " "), name, res.stdout)
			}
		}
	}
}

// TestCompletion: the completion scripts, and the values the shell is offered.
func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		res := runLine(t, nil, "completion", shell).ok(t)
		if !strings.Contains(res.stdout, "keyledger") || len(res.stdout) < 1000 {
			t.Errorf("completion %s printed %d bytes", shell, len(res.stdout))
		}
	}
	for line, want := range map[string][]string{
		"__complete secrets ":               {"delete", "get", "history", "list", "set"},
		"__complete secrets list --env ":    {"development", "staging", "production"},
		"__complete export --format ":       {"dotenv", "json", "yaml"},
		"__complete serve --log-level ":     {"debug", "info", "warn", "error"},
		"__complete run --org x --env prod": {"production"},
	} {
		args := strings.Split(line, " ")
		res := runLine(t, nil, args...).ok(t)
		for _, w := range want {
			if !strings.Contains(res.stdout, w+"\n") && !strings.Contains(res.stdout, w+"\t") {
				t.Errorf("keyledger %s offered %q, want %s", line, res.stdout, w)
			}
		}
	}
}
