package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// awkwardValues are values that break naive quoting in dotenv or YAML.
var awkwardValues = []string{
	"plain", "with space", "a#b", " # looks like a comment", "$HOME", "${HOME}", "$(id)", "`id`",
	"it's", `say "hi"`, `back\slash`, `ends with a backslash\`, `\'`, `'$HOME'`, `"`, "'", "=",
	"line1\nline2", "trailing newline\n", "tab\there", "crlf\r\nnext", "unicode ✓ é 日本",
	"nel\u0085ls\u2028ps\u2029", "bom\ufeff", "bell\a", "del\x7f", "yes", "null", "~", "- item", ": colon",
}

// sourceDotenv reads a dotenv file the way a POSIX shell does (set -a; . FILE) and
// returns the named variables.
func sourceDotenv(t *testing.T, content string, names ...string) map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Each variable is printed NUL-terminated, so values with newlines survive.
	script := `set -a; . "$1"; shift; for n in "$@"; do eval "printf '%s\0' \"\${$n}\""; done`
	out, err := exec.Command("sh", append([]string{"-c", script, "sh", path}, names...)...).Output()
	if err != nil {
		t.Fatalf("sh could not read the dotenv file: %v\n%s", err, content)
	}
	parts := strings.Split(string(out), "\x00")
	got := map[string]string{}
	for i, n := range names {
		if i < len(parts)-1 {
			got[n] = parts[i]
		}
	}
	return got
}

func parseYAML(t *testing.T, content string) map[string]string {
	t.Helper()
	got := map[string]string{}
	if err := yaml.Unmarshal([]byte(content), &got); err != nil {
		t.Fatalf("yaml: %v\n%s", err, content)
	}
	return got
}

func awkwardMap() map[string]string {
	values := map[string]string{}
	for i, v := range awkwardValues {
		values[fmt.Sprintf("V%02d", i)] = v
	}
	// Keys that YAML 1.1 reads as booleans or null when plain.
	for _, k := range []string{"NO", "Y", "ON", "NULL", "TRUE"} {
		values[k] = k
	}
	return values
}

func TestDotenvReadsBackInAShell(t *testing.T) {
	t.Parallel()
	values := awkwardMap()
	var buf bytes.Buffer
	if err := writeDotenv(&buf, values); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	got := sourceDotenv(t, buf.String(), names...)
	for n, v := range values {
		if got[n] != v {
			t.Errorf("%s = %q, read back as %q (line %q)", n, v, got[n], n+"="+dotenvQuote(v))
		}
	}
}

func TestDotenvQuoting(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]string{
		"plain":      `'plain'`,
		"$HOME #x":   `'$HOME #x'`,
		"a\nb":       "'a\nb'",
		"it's $x":    `"it's \$x"`,
		`end\`:       `"end\\"`,
		"`q` \" '":   "\"\\`q\\` \\\" '\"",
		`c:\path`:    `'c:\path'`,
		`"quoted"`:   `'"quoted"'`,
		"it's\nmany": "\"it's\nmany\"",
	} {
		if got := dotenvQuote(v); got != want {
			t.Errorf("dotenvQuote(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestYAMLReadsBack(t *testing.T) {
	t.Parallel()
	values := awkwardMap()
	var buf bytes.Buffer
	if err := writeYAML(&buf, values); err != nil {
		t.Fatal(err)
	}
	got := parseYAML(t, buf.String())
	if !equalMaps(got, values) {
		for n, v := range values {
			if got[n] != v {
				t.Errorf("%s = %q, read back as %q", n, v, got[n])
			}
		}
	}
	if !strings.Contains(buf.String(), `"NO": "NO"`) {
		t.Errorf("keys are not quoted:\n%s", buf.String())
	}
}

func TestJSONDoesNotEscapeHTML(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := writeJSON(&buf, map[string]string{"B": "<&>", "A": "x"}); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "{\n  \"A\": \"x\",\n  \"B\": \"<&>\"\n}\n" {
		t.Errorf("json %q", buf.String())
	}
}

// TestParseInterspersed: flags may come before, between or after NAME=VALUE
// arguments, and "--" ends them, in the command tree as the binary parses it.
func TestParseInterspersed(t *testing.T) {
	t.Parallel()
	root := newRootCommand(cli{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }})
	set, _, err := root.Find([]string{"secrets", "set"})
	if err != nil {
		t.Fatal(err)
	}
	if err := set.ParseFlags([]string{"A=1", "--env", "dev", "B=2", "--", "--not-a-flag"}); err != nil {
		t.Fatal(err)
	}
	rest := set.Flags().Args()
	env, _ := set.Flags().GetString("env")
	if env != "dev" || strings.Join(rest, " ") != "A=1 B=2 --not-a-flag" {
		t.Fatalf("rest %q, env %q", rest, env)
	}
}

func TestEnvironmentSlugs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"dev": "development", "Development": "development", "stg": "staging", "stage": "staging", "prod": "production", "production": "production"} {
		if got, err := environmentSlug(in); err != nil || got != want {
			t.Errorf("environmentSlug(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := environmentSlug("qa"); err == nil {
		t.Error("qa accepted")
	}
}
