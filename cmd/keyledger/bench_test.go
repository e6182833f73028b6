package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
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
	latencyPath := filepath.Join(t.TempDir(), "latency.tsv")
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--binary", bin, "--database-url", pgtest.NewDatabase(t),
		"--secrets", "50", "--clients", "2", "--seed-clients", "4", "--duration", "1s", "--lag-rate", "50", "--json", jsonPath,
		"--latency-log", latencyPath, "--log-level", "warn"}
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
	checkLatencyLog(t, latencyPath, report)
	want := []string{"seed (create)", "create", "read one secret", "hot update", "hot update, expected_version",
		"grid first page", "grid deep page", "grid q= search", "reveal", "values (service token)", "mixed 90/10 read/write", "projection lag, 50 updates/s"}
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
	// The fixed-rate phase offered 50 updates in its second and read the projection's
	// delay from the server's histogram: batches were observed.
	lag := report.Phases[len(report.Phases)-1]
	if lag.OfferedPerSecond != 50 || lag.Ops < 25 || lag.ProjectionDelay == nil || lag.ProjectionDelay.Batches == 0 || lag.ProjectionDelay.P99Ms <= 0 {
		t.Errorf("projection lag phase: %+v, delay %+v", lag, lag.ProjectionDelay)
	}
	if !strings.Contains(stdout.String(), "projection delay") {
		t.Error("the report does not print the projection delay")
	}
	if report.PeakRSSMB <= 0 || report.ServerCPUSeconds <= 0 {
		t.Errorf("server stats missing: peak RSS %v MB, CPU %v s", report.PeakRSSMB, report.ServerCPUSeconds)
	}
	// The phases say how often the server's collector ran: a seed and ten phases
	// allocate far more than a fresh heap's first goal.
	var gcs float64
	for _, p := range report.Phases {
		if p.ServerGCsPerSecond < 0 {
			t.Errorf("%s: %v collections a second", p.Name, p.ServerGCsPerSecond)
		}
		gcs += p.ServerGCsPerSecond * p.Seconds
	}
	if gcs < 1 || !strings.Contains(stdout.String(), "GCs/s") {
		t.Errorf("the phases counted %.1f of the server's collections in all, or the table has no GCs/s column", gcs)
	}
	// And what each operation allocated: a create's event, rows and notices are kilobytes.
	if create := report.Phases[1]; create.Name != "create" || create.ServerAllocKBPerOp < 1 || !strings.Contains(stdout.String(), "alloc kB/op") {
		t.Errorf("%s allocated %.2f kB an operation, or the table has no alloc kB/op column", create.Name, create.ServerAllocKBPerOp)
	}
	// Every phase says what its operations cost the server and how busy the machine
	// was (the phases are short here, but read one runs flat out for a second).
	read := report.Phases[2]
	if read.ServerCPUMicrosPerOp <= 0 || read.MachineBusyPercent <= 0 || read.MachineBusyPercent > 100 {
		t.Errorf("%s: %v µs CPU per op, machine busy %v %%", read.Name, read.ServerCPUMicrosPerOp, read.MachineBusyPercent)
	}
}

// checkLatencyLog holds --latency-log's file to the report it came with: a line for
// every operation a phase counted (successes and errors), each started within its
// phase and taking some time, in the order they started, the errors by the kinds the
// table counts.
func checkLatencyLog(t *testing.T, path string, report benchReport) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if lines[0] != strings.TrimSuffix(latencyLogHeader, "\n") {
		t.Fatalf("header %q", lines[0])
	}
	type phaseLog struct {
		ops       int
		errors    map[string]int
		lastStart float64
	}
	logged := map[string]*phaseLog{}
	for _, line := range lines[1:] {
		f := strings.Split(line, "\t")
		if len(f) != 5 || f[0] != "1" {
			t.Fatalf("line %q: want 5 fields of run 1", line)
		}
		start, err1 := strconv.ParseFloat(f[2], 64)
		took, err2 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil || start < 0 || took <= 0 {
			t.Fatalf("line %q: start and latency must be milliseconds, the latency above 0", line)
		}
		p := logged[f[1]]
		if p == nil {
			p = &phaseLog{errors: map[string]int{}}
			logged[f[1]] = p
		}
		if start < p.lastStart {
			t.Fatalf("line %q starts before the line above it", line)
		}
		p.ops++
		p.lastStart = start
		if f[4] != "ok" {
			p.errors[f[4]]++
		}
	}
	if len(logged) != len(report.Phases) {
		t.Errorf("the log has %d phases, the report %d", len(logged), len(report.Phases))
	}
	for _, p := range report.Phases {
		l := logged[p.Name]
		if l == nil {
			t.Errorf("phase %q is not in the log", p.Name)
			continue
		}
		if l.ops != p.Ops+p.Errors {
			t.Errorf("phase %q: %d lines, the report counts %d operations and %d errors", p.Name, l.ops, p.Ops, p.Errors)
		}
		for kind, n := range p.ErrorKinds {
			if l.errors[kind] != n {
				t.Errorf("phase %q: %d lines of %q, the report counts %d", p.Name, l.errors[kind], kind, n)
			}
		}
	}
}

// A phase's collections are the server's go_gc_duration_seconds_count, read from its
// Prometheus text: the sample without labels, not the summary's quantiles or sum.
func TestParseSample(t *testing.T) {
	t.Parallel()
	text := `# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 4.0681e-05
go_gc_duration_seconds{quantile="1"} 0.002
go_gc_duration_seconds_sum 0.071
go_gc_duration_seconds_count 362
go_goroutines 159
`
	if v, n, err := parseSamples(strings.NewReader(text), gcCount); err != nil || n != 1 || v[0] != 362 {
		t.Errorf("parseSamples = %v, %v, %v; want 362", v, n, err)
	}
	if _, n, err := parseSamples(strings.NewReader(text), "go_threads"); err != nil || n != 0 {
		t.Errorf("a sample that is not there: found %v, %v", n, err)
	}
	if _, _, err := parseSamples(strings.NewReader("go_gc_duration_seconds_count many\n"), gcCount); err == nil {
		t.Error("a sample that is not a number was read")
	}
	// Two at once, in the order asked, whatever the text's order.
	text += "go_memstats_alloc_bytes_total 1.5e+09\n"
	if vs, n, err := parseSamples(strings.NewReader(text), allocBytes, gcCount); err != nil || n != 2 || vs[0] != 1.5e9 || vs[1] != 362 {
		t.Errorf("parseSamples = %v, %d, %v; want [1.5e9 362]", vs, n, err)
	}
	if vs, n, err := parseSamples(strings.NewReader(text), gcCount, "go_threads"); err != nil || n != 1 || vs[0] != 362 {
		t.Errorf("parseSamples with one missing = %v, %d, %v", vs, n, err)
	}
}

// The projection delay is read from the server's Prometheus text: the observations
// between two scrapes, as bucket bounds.
func TestParseHistogramQuantiles(t *testing.T) {
	t.Parallel()
	text := func(counts ...int) string {
		var b strings.Builder
		b.WriteString("# HELP keyledger_projection_delay_seconds x\n# TYPE keyledger_projection_delay_seconds histogram\n")
		for i, le := range []string{"0.005", "0.01", "0.05", "+Inf"} {
			b.WriteString(`keyledger_projection_delay_seconds_bucket{le="` + le + `"} ` + strconv.Itoa(counts[i]) + "\n")
		}
		b.WriteString("keyledger_projection_delay_seconds_sum 1\nkeyledger_projection_delay_seconds_count 9\nkeyledger_other_bucket{le=\"1\"} 5\n")
		return b.String()
	}
	before, err := parseHistogram(strings.NewReader(text(2, 3, 3, 3)), "keyledger_projection_delay_seconds")
	if err != nil {
		t.Fatal(err)
	}
	// 100 more: 60 at ≤ 5 ms, 39 more at ≤ 10 ms, 1 at ≤ 50 ms.
	after, err := parseHistogram(strings.NewReader(text(62, 102, 103, 103)), "keyledger_projection_delay_seconds")
	if err != nil {
		t.Fatal(err)
	}
	d := after.since(before)
	if d.Batches != 100 || d.P50Ms != 5 || d.P99Ms != 10 {
		t.Fatalf("got %+v, want 100 batches, p50 <= 5 ms, p99 <= 10 ms", d)
	}
	if _, err := parseHistogram(strings.NewReader("nothing\n"), "keyledger_projection_delay_seconds"); err == nil {
		t.Fatal("no histogram: no error")
	}
}
