package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// envAnnotation is the flag annotation that names the KEYLEDGER_ variable standing in
// for a flag. The variable is read after parsing, never baked into the flag's default:
// a default shows in --help, and KEYLEDGER_MASTER_KEY or a database URL with its
// password must not.
const envAnnotation = "keyledger-env"

// withEnv says that variable sets the flag name when the command line does not, and
// adds the variable to the flag's help.
func withEnv(fs *pflag.FlagSet, name, variable string) {
	f := fs.Lookup(name)
	if f == nil {
		// A programming error caught by every test that builds the tree.
		return
	}
	f.Usage += " (" + variable + ")"
	_ = fs.SetAnnotation(name, envAnnotation, []string{variable})
}

// envVariable is the variable of a flag declared withEnv, or "".
func envVariable(f *pflag.Flag) string {
	if v := f.Annotations[envAnnotation]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// applyEnv gives each flag that the command line left out the value of its variable,
// when that is set and not empty: a flag given on the command line wins. Calling it
// again changes nothing, since only scalar flags carry variables.
func applyEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		name := envVariable(f)
		if name == "" || f.Changed {
			return
		}
		v := getenv(name)
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, envValueError(name, f.Value.Type(), v, err))
		}
	})
	return errors.Join(errs...)
}

// envValueError says what a variable should hold. Only typed values (booleans,
// numbers, durations) can be refused, never free text, so quoting the value cannot
// print a secret.
func envValueError(name, typ, value string, err error) error {
	want := map[string]string{"bool": "true or false", "int": "a whole number", "duration": "a duration such as 10s"}[typ]
	if want == "" {
		return fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Errorf("%s must be %s, not %q", name, want, value)
}
