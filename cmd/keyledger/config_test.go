package main

import (
	"math"
	"runtime/debug"
	"strings"
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
		c, err := serveConfig("changes-max-age", tc.flag, map[string]string{"KEYLEDGER_CHANGES_MAX_AGE": tc.env})
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
		c, err := serveConfig("data-key-max-encryptions", tc.flag, map[string]string{"KEYLEDGER_DATA_KEY_MAX_ENCRYPTIONS": tc.env})
		if (err == nil) != tc.ok || (tc.ok && c.DataKeyMaxEncryptions != tc.want) {
			t.Errorf("flag %q env %q: %d, %v; want %d (ok %v)", tc.flag, tc.env, c.DataKeyMaxEncryptions, err, tc.want, tc.ok)
		}
	}
}

// serve's soft memory limit: the flag, then KEYLEDGER_MEMORY_LIMIT, then GOMEMLIMIT
// (which the runtime has applied already, so serve leaves it), then the default.
func TestMemoryLimitFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag, env, gomemlimit string
		want                  int64
		set, ok               bool
	}{
		{"", "", "", defaultMemoryLimit, true, true},
		{"", "", "1GiB", 0, false, true},
		{"", "512MiB", "1GiB", 512 << 20, true, true},
		{"2GiB", "512MiB", "", 2 << 30, true, true},
		{"off", "", "1GiB", math.MaxInt64, true, true},
		{"", "67108864", "", 64 << 20, true, true},
		{"", "65536KiB", "", 64 << 20, true, true},
		{"1TiB", "", "", 1 << 40, true, true},
		{"512", "", "", 0, false, false},
		{"", "0", "", 0, false, false},
		{"-1GiB", "", "", 0, false, false},
		{"512MB", "", "", 0, false, false},
		{"lots", "", "", 0, false, false},
		{"99999999999TiB", "", "", 0, false, false},
	} {
		c, err := serveConfig("memory-limit", tc.flag, map[string]string{"KEYLEDGER_MEMORY_LIMIT": tc.env, "GOMEMLIMIT": tc.gomemlimit})
		if (err == nil) != tc.ok || (tc.ok && (c.MemoryLimit != tc.want || c.memoryLimitSet != tc.set)) {
			t.Errorf("flag %q env %q GOMEMLIMIT %q: %d (set %v), %v; want %d (set %v, ok %v)",
				tc.flag, tc.env, tc.gomemlimit, c.MemoryLimit, c.memoryLimitSet, err, tc.want, tc.set, tc.ok)
		}
	}
}

// serve sets the limit it resolved, and leaves the runtime's own (GOMEMLIMIT's) alone
// when it resolved none.
func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	if got := applyMemoryLimit(&config{MemoryLimit: 3 << 30, memoryLimitSet: true}); got != 3<<30 {
		t.Fatalf("limit %d, want %d", got, 3<<30)
	}
	if got := applyMemoryLimit(&config{MemoryLimit: 64 << 20}); got != 3<<30 {
		t.Fatalf("an unset limit changed the runtime's: %d", got)
	}
}

// serveConfig is serve's config as finish leaves it, from --flag value (when value is
// set) and the variables in env.
func serveConfig(flag, value string, env map[string]string) (*config, error) {
	fs, c := serverFlags("serve", nil, func(name string) string { return env[name] })
	var args []string
	if value != "" {
		args = []string{"--" + flag, value}
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.finish()
}

// A log level or a replication factor that means nothing is refused in one line: a
// log level it could not read was taken as info without a word, and 0 replicas went on
// to a start that JetStream refused, or not, request by request.
func TestLogLevelAndReplicasAreChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		flag, value string
		env         map[string]string
		refused     string
	}{
		{"log-level", "debug", nil, ""},
		{"log-level", "WARN", nil, ""},
		{"log-level", "verbose", nil, `KEYLEDGER_LOG_LEVEL must be debug, info, warn or error, not "verbose"`},
		{"", "", map[string]string{"KEYLEDGER_LOG_LEVEL": "warning"}, `not "warning"`},
		{"replicas", "3", nil, ""},
		{"replicas", "0", nil, "KEYLEDGER_REPLICAS must be between 1 and 5, not 0"},
		{"replicas", "-1", nil, "not -1"},
		{"", "", map[string]string{"KEYLEDGER_REPLICAS": "7"}, "not 7"},
	} {
		_, err := serveConfig(tc.flag, tc.value, tc.env)
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("--%s %q %v: %v", tc.flag, tc.value, tc.env, err)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("--%s %q %v: %v, want %q", tc.flag, tc.value, tc.env, err, tc.refused)
		}
	}
}
