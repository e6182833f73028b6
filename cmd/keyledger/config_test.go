package main

import (
	"testing"
	"time"
)

func TestChangesMaxAgeFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag, env string
		want      time.Duration
		ok        bool
	}{
		{"", "", 7 * 24 * time.Hour, true},
		{"", "36h", 36 * time.Hour, true},
		{"30d", "36h", 30 * 24 * time.Hour, true},
		{"90m", "", 90 * time.Minute, true},
		{"0", "", 0, false},
		{"", "0s", 0, false},
		{"-2h", "", 0, false},
		{"a week", "", 0, false},
		{"xd", "", 0, false},
	} {
		getenv := func(name string) string {
			if name == "KEYLEDGER_CHANGES_MAX_AGE" {
				return tc.env
			}
			return ""
		}
		fs, c := serverFlags("serve", nil, getenv)
		var args []string
		if tc.flag != "" {
			args = []string{"--changes-max-age", tc.flag}
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		err := c.finish()
		if (err == nil) != tc.ok || (tc.ok && c.ChangesMaxAge != tc.want) {
			t.Errorf("flag %q env %q: %s, %v; want %s (ok %v)", tc.flag, tc.env, c.ChangesMaxAge, err, tc.want, tc.ok)
		}
	}
}
