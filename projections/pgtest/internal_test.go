package pgtest

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDatabaseNameIsAShortUniqueIdentifier(t *testing.T) {
	t.Parallel()
	valid := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for _, testName := range []string{
		"TestX",
		"TestProjector/replays from checkpoint/Ünïcode & spaces",
		strings.Repeat("TestVeryLongName/", 20),
	} {
		a, b := databaseName(testName), databaseName(testName)
		if a == b {
			t.Errorf("%q: two calls gave the same name %q", testName, a)
		}
		if len(a) > 63 || !valid.MatchString(a) {
			t.Errorf("%q: %q is not a valid PostgreSQL identifier of at most 63 bytes", testName, a)
		}
	}
}

func TestDockerProbeNeverHangs(t *testing.T) {
	t.Parallel()
	start := time.Now()
	err := dockerAnswers(t.Context())
	took := time.Since(start)
	t.Logf("docker probe: %v after %v", err, took)
	if took > dockerProbeTimeout+time.Second {
		t.Errorf("docker probe took %v, want at most about %v", took, dockerProbeTimeout)
	}
}
