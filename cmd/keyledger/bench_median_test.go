package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/projections/pgtest"
)

// Every figure of a phase is the median of the runs' own, taken one by one; errors
// and their kinds are summed over the runs; every run's ops/s and p99 are kept in
// the order the runs ran.
func TestMedianOfRuns(t *testing.T) {
	run := func(ops, p99, rss float64, errs int, delay float64) *benchReport {
		create := benchPhaseResult{Name: "create", Ops: 100, OpsPerSecond: ops, P50Ms: ops / 1000, P99Ms: p99, ServerCPUMicrosPerOp: 2 * ops}
		if errs > 0 {
			create.Errors, create.ErrorKinds = errs, map[string]int{"503 unavailable": errs}
		}
		lag := benchPhaseResult{Name: "projection lag", Ops: 50, OpsPerSecond: 50, OfferedPerSecond: 50,
			ProjectionDelay: &benchDelay{Batches: 40, P50Ms: delay / 2, P99Ms: delay}}
		return &benchReport{Phases: []benchPhaseResult{create, lag}, FinalRSSMB: rss, PeakRSSMB: 2 * rss}
	}
	m := medianOf([]*benchReport{run(3000, 30, 190, 0, 10), run(1000, 10, 260, 2, 5), run(1200, 80, 180, 1, 25)})
	if m.Runs != 3 || len(m.Phases) != 2 {
		t.Fatalf("%d runs, %d phases", m.Runs, len(m.Phases))
	}
	c := m.Phases[0]
	if c.Name != "create" || c.OpsPerSecond != 1200 || c.P50Ms != 1.2 || c.P99Ms != 30 || c.ServerCPUMicrosPerOp != 2400 {
		t.Errorf("create's medians: %+v", c.benchPhaseResult)
	}
	if !slices.Equal(c.RunsOpsPerSecond, []float64{3000, 1000, 1200}) || !slices.Equal(c.RunsP99Ms, []float64{30, 10, 80}) {
		t.Errorf("create's runs: ops/s %v, p99 %v", c.RunsOpsPerSecond, c.RunsP99Ms)
	}
	if c.Ops != 300 || c.Errors != 3 || c.ErrorKinds["503 unavailable"] != 3 {
		t.Errorf("create's errors: %d of %d, %v", c.Errors, c.Ops, c.ErrorKinds)
	}
	if m.FinalRSSMB != 190 || m.PeakRSSMB != 380 {
		t.Errorf("RSS: %v, peak %v", m.FinalRSSMB, m.PeakRSSMB)
	}
	lag := m.Phases[1]
	if d := lag.ProjectionDelay; d == nil || d.P99Ms != 10 || d.P50Ms != 5 || d.Batches != 40 || !slices.Equal(lag.RunsProjectionDelayP99Ms, []float64{10, 5, 25}) {
		t.Errorf("lag: %+v, runs %v", lag.ProjectionDelay, lag.RunsProjectionDelayP99Ms)
	}
	// An even count's median is the mean of the two middle values.
	if got := median([]float64{4, 1, 3, 2}, func(v float64) float64 { return v }); got != 2.5 {
		t.Errorf("median of 1..4 = %v, want 2.5", got)
	}
	var out bytes.Buffer
	if err := writeMedianTable(&out, m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"median of 3 runs", "3000 / 1000 / 1200", "30.0 / 10.0 / 80.0", "3 (1%: 503 unavailable×3)", "runs: 10 / 5 / 25"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, out.String())
		}
	}
}

// Runs above 1 need a fresh database each: a given one is refused, as are counts
// that are no runs or hours of them.
func TestBenchRunsAreBounded(t *testing.T) {
	for _, c := range []benchConfig{
		{Runs: 0},
		{Runs: maxBenchRuns + 1},
		{Runs: 2, DatabaseURL: "postgres://localhost/bench"},
	} {
		c.Secrets, c.Clients, c.SeedClients, c.Duration, c.Timeout, c.LagRate = 1, 1, 1, 1, 1, 1
		if err := c.validate(); err == nil {
			t.Errorf("runs %d with database %q: no error", c.Runs, c.DatabaseURL)
		}
	}
	ok := benchConfig{Runs: 3, Secrets: 1, Clients: 1, SeedClients: 1, Duration: 1, Timeout: 1, LagRate: 1}
	if err := ok.validate(); err != nil {
		t.Errorf("3 runs: %v", err)
	}
}

// `keyledger bench --runs 2` runs twice, each on a database of its own, prints both
// runs' tables and then the medians, and writes both runs and the medians as JSON.
func TestBenchRunsTwiceAndPrintsMedians(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	admin := pgtest.NewDatabase(t)
	getenv := func(k string) string {
		if k == "KEYLEDGER_TEST_DATABASE_URL" {
			return admin
		}
		return ""
	}
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--binary", bin, "--runs", "2", "--phases", "create", "--secrets", "20", "--clients", "2",
		"--seed-clients", "4", "--duration", "1s", "--json", jsonPath, "--log-level", "warn"}
	if err := run(t.Context(), args, &stdout, &stderr, getenv); err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("bench output:\n%s", stdout.String())
	if n := strings.Count(stdout.String(), "keyledger bench "); n != 2 {
		t.Errorf("%d runs' tables, want 2", n)
	}
	if !strings.Contains(stdout.String(), "median of 2 runs") {
		t.Error("no table of medians")
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got benchRuns
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("bench JSON: %v", err)
	}
	if len(got.Runs) != 2 || got.Median == nil || got.Median.Runs != 2 || len(got.Median.Phases) != 2 {
		t.Fatalf("JSON: %d runs, median %+v", len(got.Runs), got.Median)
	}
	for i, r := range got.Runs {
		if len(r.Phases) != 2 || r.Phases[0].Ops != 20 || r.Phases[1].Name != "create" || r.Phases[1].Ops == 0 || r.Phases[1].Errors != 0 {
			t.Errorf("run %d: %+v", i+1, r.Phases)
		}
	}
	if c := got.Median.Phases[1]; len(c.RunsOpsPerSecond) != 2 || c.Ops != got.Runs[0].Phases[1].Ops+got.Runs[1].Phases[1].Ops {
		t.Errorf("median create: %+v", c)
	}
}
