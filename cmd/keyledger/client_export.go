package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// newExportCommand is `keyledger export`.
func newExportCommand(cl cli) *cobra.Command {
	var f clientFlags
	var format string
	cmd := &cobra.Command{
		Use:   "export --org O --env E [--format dotenv|json|yaml]",
		Short: "print an environment's values",
		Long: `Print an environment's values, sorted by name, as dotenv (single-quoted, so a POSIX
shell, godotenv and docker compose read them back exactly), JSON or YAML. The fetch is
audited as secrets.fetched, as run's is.`,
		GroupID: groupClient,
		Args:    usageArgs("usage: keyledger export --org O --env E [--format dotenv|json|yaml]"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cl.export(cmd.Context(), f, format)
		},
	}
	f.addServerFlag(cmd)
	f.addOrgFlag(cmd, cl)
	f.addEnvFlag(cmd, "environment: development, staging or production (or dev, stg, prod)")
	cmd.Flags().StringVar(&format, "format", "dotenv", "dotenv, json or yaml")
	completeWith(cmd, "format", "dotenv", "json", "yaml")
	return cmd
}

// export prints an environment's values as dotenv, JSON or YAML. It uses the same
// audited fetch as `run` (secrets.fetched).
func (cl cli) export(ctx context.Context, f clientFlags, format string) error {
	write := exportFormat(format)
	if write == nil {
		return fmt.Errorf("unknown format %q: use dotenv, json or yaml", format)
	}
	slug, err := environmentSlug(f.env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, defaultCallTimeout)
	defer cancel()
	c, orgID, err := cl.connectOrg(ctx, f.server, f.org)
	if err != nil {
		return err
	}
	vals, err := c.Values(ctx, orgID, slug)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(cl.stdout)
	if err := write(w, vals.Values); err != nil {
		return err
	}
	return w.Flush()
}

// exportFormat is the writer of a format (values sorted by name), or nil.
func exportFormat(name string) func(io.Writer, map[string]string) error {
	switch name {
	case "dotenv", "env":
		return writeDotenv
	case "json":
		return writeJSON
	case "yaml", "yml":
		return writeYAML
	}
	return nil
}

// writeDotenv writes NAME='value' lines. A value is single-quoted, so that nothing in
// it ($, #, ", \, newlines) is interpreted; a value that holds a single quote, or ends
// with a backslash (which some dotenv parsers take for an escaped closing quote), is
// double-quoted with \, ", $ and ` escaped. Newlines stay literal inside the quotes.
// A POSIX shell (set -a; . ./.env), godotenv and docker compose read it back exactly.
func writeDotenv(w io.Writer, values map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if _, err := fmt.Fprintf(w, "%s=%s\n", name, dotenvQuote(values[name])); err != nil {
			return err
		}
	}
	return nil
}

var dotenvDoubleQuoted = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")

func dotenvQuote(v string) string {
	if !strings.Contains(v, "'") && !strings.HasSuffix(v, `\`) {
		return "'" + v + "'"
	}
	return `"` + dotenvDoubleQuoted.Replace(v) + `"`
}

func writeJSON(w io.Writer, values map[string]string) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(values)
}

// writeYAML writes a mapping of double-quoted keys and values. Keys are quoted too: a
// plain NO, ON or Y is a boolean to YAML 1.1 readers.
func writeYAML(w io.Writer, values map[string]string) error {
	if len(values) == 0 {
		_, err := io.WriteString(w, "{}\n")
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if _, err := fmt.Fprintf(w, "%s: %s\n", yamlQuote(name), yamlQuote(values[name])); err != nil {
			return err
		}
	}
	return nil
}

// yamlQuote writes s as a YAML double-quoted scalar: every character outside YAML's
// printable set, every line break (including NEL, LS and PS, which would be folded),
// tab, backslash and quote is escaped.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case 0:
			b.WriteString(`\0`)
		default:
			if yamlPrintable(r) {
				b.WriteRune(r)
			} else if r <= 0xFF {
				fmt.Fprintf(&b, `\x%02X`, r)
			} else if r <= 0xFFFF {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				fmt.Fprintf(&b, `\U%08X`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// yamlPrintable is YAML's c-printable less the line breaks and the byte order mark.
func yamlPrintable(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return false
	case r >= 0x20 && r <= 0x7E:
		return true
	case r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xFEFF:
		return false
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}
