package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/projections/pgtest"
)

// TestBenchRunsEveryPhaseWithoutErrors runs `keyledger bench` with tiny numbers
// against the built binary. It checks the shape of the report, never a timing: every
// phase ran operations, and none failed, except for the 409s that expected_version
// is there to produce when two clients race on one secret.
func TestBenchRunsEveryPhaseWithoutErrors(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--binary", bin, "--database-url", pgtest.NewDatabase(t),
		"--secrets", "50", "--clients", "2", "--seed-clients", "4", "--duration", "1s", "--json", jsonPath, "--log-level", "warn"}
	if err := run(t.Context(), args, &stdout, &stderr, func(string) string { return "" }); err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("bench output:\n%s", stdout.String())

	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var report benchReport
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatalf("bench JSON: %v", err)
	}
	want := []string{"seed (create)", "create", "read one secret", "hot update", "hot update, expected_version",
		"grid first page", "grid deep page", "grid q= search", "reveal", "values (service token)", "mixed 90/10 read/write"}
	if len(report.Phases) != len(want) {
		t.Fatalf("%d phases, want %d: %+v", len(report.Phases), len(want), report.Phases)
	}
	for i, p := range report.Phases {
		if p.Name != want[i] {
			t.Errorf("phase %d is %q, want %q", i, p.Name, want[i])
		}
		if p.Ops == 0 {
			t.Errorf("phase %q did no operation", p.Name)
		}
		errs := p.Errors
		if p.Name == "hot update, expected_version" {
			errs -= p.ErrorKinds["409 version_conflict"]
		}
		if errs != 0 {
			t.Errorf("phase %q: %d errors %v", p.Name, p.Errors, p.ErrorKinds)
		}
		if !strings.Contains(stdout.String(), p.Name) {
			t.Errorf("the table has no row %q", p.Name)
		}
	}
	if report.Phases[0].Ops != 50 {
		t.Errorf("seeded %d secrets, want 50", report.Phases[0].Ops)
	}
	if report.PeakRSSMB <= 0 || report.ServerCPUSeconds <= 0 {
		t.Errorf("server stats missing: peak RSS %v MB, CPU %v s", report.PeakRSSMB, report.ServerCPUSeconds)
	}
}
