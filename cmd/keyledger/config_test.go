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

func TestDataKeyMaxEncryptionsFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag, env string
		want      uint64
		ok        bool
	}{
		{"", "", 1 << 31, true},
		{"", "1000000", 1000000, true},
		{"5000", "1000000", 5000, true},
		{"4294967296", "", 1 << 32, true},
		{"4294967297", "", 0, false},
		{"0", "", 0, false},
		{"", "-1", 0, false},
		{"", "lots", 0, false},
	} {
		getenv := func(name string) string {
			if name == "KEYLEDGER_DATA_KEY_MAX_ENCRYPTIONS" {
				return tc.env
			}
			return ""
		}
		fs, c := serverFlags("serve", nil, getenv)
		var args []string
		if tc.flag != "" {
			args = []string{"--data-key-max-encryptions", tc.flag}
		}
		err := fs.Parse(args)
		if err == nil {
			err = c.finish()
		}
		if (err == nil) != tc.ok || (tc.ok && c.DataKeyMaxEncryptions != tc.want) {
			t.Errorf("flag %q env %q: %d, %v; want %d (ok %v)", tc.flag, tc.env, c.DataKeyMaxEncryptions, err, tc.want, tc.ok)
		}
	}
}
