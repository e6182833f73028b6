package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
)

// benchSamples is one worker's record of a phase: the latency of every successful
// operation and the failed ones by kind.
type benchSamples struct {
	ok     []time.Duration
	errors map[string]int
}

func (s *benchSamples) add(took time.Duration, err error) {
	if err == nil {
		s.ok = append(s.ok, took)
		return
	}
	if s.errors == nil {
		s.errors = map[string]int{}
	}
	s.errors[errorKind(err)]++
}

// errorKind names a failure without its text: a status and problem code, a timeout or
// a network failure.
func errorKind(err error) string {
	var apiErr *client.Error
	var netErr *client.NetworkError
	switch {
	case errors.As(err, &apiErr):
		if apiErr.Code != "" {
			return strconv.Itoa(apiErr.Status) + " " + apiErr.Code
		}
		return strconv.Itoa(apiErr.Status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &netErr):
		return "network"
	}
	return "other"
}

// benchPhaseResult is one row of the report. Latencies are of successful operations;
// ops per second counts successful operations over the phase's whole time.
type benchPhaseResult struct {
	Name         string         `json:"name"`
	Clients      int            `json:"clients"`
	Seconds      float64        `json:"seconds"`
	Ops          int            `json:"ops"`
	Errors       int            `json:"errors"`
	ErrorKinds   map[string]int `json:"error_kinds,omitempty"`
	OpsPerSecond float64        `json:"ops_per_second"`
	P50Ms        float64        `json:"p50_ms"`
	P90Ms        float64        `json:"p90_ms"`
	P99Ms        float64        `json:"p99_ms"`
	MaxMs        float64        `json:"max_ms"`
	// ServerRSSMB is the server's resident memory at the end of the phase.
	ServerRSSMB float64 `json:"server_rss_mb"`
	// ServerCPUSeconds is the CPU time (user + system) the server used in the phase.
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	// ServerCPUMicrosPerOp is ServerCPUSeconds per successful operation: a figure
	// that a busy machine bends less than ops/s.
	ServerCPUMicrosPerOp float64 `json:"server_cpu_us_per_op"`
	// ServerGCsPerSecond is how often the server's garbage collector completed a
	// collection in the phase (its /metrics, read before and after): under the memory
	// goal at 100,000 secrets, what a write phase's p99 follows.
	ServerGCsPerSecond float64 `json:"server_gcs_per_second"`
	// ServerAllocKBPerOp is what the server's heap allocated in the phase (its
	// /metrics, read before and after) per successful operation: the garbage an
	// operation leaves for the collector, which hardly moves with the machine's load,
	// so it compares two builds where ops/s cannot.
	ServerAllocKBPerOp float64 `json:"server_alloc_kb_per_op"`
	// PostgresCPUMicrosPerOp is the CPU time of this machine's postgres processes in
	// the phase per successful operation: what PostgreSQL costs an operation, when it
	// runs on this machine (0 when it does not, or did nothing).
	PostgresCPUMicrosPerOp float64 `json:"postgres_cpu_us_per_op,omitempty"`
	// MachineBusyPercent is how busy the machine's CPUs were in the phase, every
	// process counted (PostgreSQL, the benchmark's clients, anything else running):
	// near 100 the phase measured the machine, not the server.
	MachineBusyPercent float64 `json:"machine_busy_percent"`
	// OfferedPerSecond is the rate a fixed-rate phase offered (0: a closed loop).
	OfferedPerSecond float64 `json:"offered_per_second,omitempty"`
	// ProjectionDelay is the projection's delay in a fixed-rate phase.
	ProjectionDelay *benchDelay `json:"projection_delay,omitempty"`
}

func summarize(name string, clients int, elapsed time.Duration, samples []benchSamples, before, after procStats) benchPhaseResult {
	r := benchPhaseResult{Name: name, Clients: clients, Seconds: elapsed.Seconds()}
	var all []time.Duration
	for _, s := range samples {
		all = append(all, s.ok...)
		for k, n := range s.errors {
			if r.ErrorKinds == nil {
				r.ErrorKinds = map[string]int{}
			}
			r.ErrorKinds[k] += n
			r.Errors += n
		}
	}
	slices.Sort(all)
	r.Ops = len(all)
	r.OpsPerSecond = float64(r.Ops) / elapsed.Seconds()
	r.P50Ms, r.P90Ms, r.P99Ms = percentileMs(all, 50), percentileMs(all, 90), percentileMs(all, 99)
	if len(all) > 0 {
		r.MaxMs = ms(all[len(all)-1])
	}
	r.ServerRSSMB = mb(after.rss)
	r.ServerCPUSeconds = after.cpuSeconds - before.cpuSeconds
	if r.Ops > 0 {
		r.ServerCPUMicrosPerOp = r.ServerCPUSeconds * 1e6 / float64(r.Ops)
	}
	if pg := ticksSince(before.postgres, after.postgres); pg > 0 && r.Ops > 0 {
		r.PostgresCPUMicrosPerOp = float64(pg) / clockTicksPerSecond * 1e6 / float64(r.Ops)
	}
	if total := after.machineTotal - before.machineTotal; total > 0 {
		r.MachineBusyPercent = 100 * float64(after.machineBusy-before.machineBusy) / float64(total)
	}
	return r
}

// percentileMs is the nearest-rank percentile of sorted, in milliseconds.
func percentileMs(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return ms(sorted[max(rank, 1)-1])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchReport is the whole run, as printed and as written with --json.
type benchReport struct {
	Date      time.Time `json:"date"`
	Commit    string    `json:"commit"`
	Modified  bool      `json:"modified"`
	GoVersion string    `json:"go_version"`
	CPUs      int       `json:"cpus"`
	Secrets   int       `json:"secrets"`
	Clients   int       `json:"clients"`
	Duration  string    `json:"duration"`
	Database  string    `json:"database"`
	// Server is the server measured when it is not Keyledger (--vault): its name and
	// version.
	Server           string             `json:"server,omitempty"`
	Phases           []benchPhaseResult `json:"phases"`
	FinalRSSMB       float64            `json:"final_rss_mb"`
	PeakRSSMB        float64            `json:"peak_rss_mb"`
	ServerCPUSeconds float64            `json:"server_cpu_seconds"`
}

// newBenchReport describes the run: the commit comes from the binary's build
// information, which go build records inside a git checkout unless -buildvcs=false;
// then the version set at build time (make bench sets git describe) stands in.
func newBenchReport(c *benchConfig) *benchReport {
	r := &benchReport{
		Date: time.Now().UTC().Truncate(time.Second), Commit: version, GoVersion: runtime.Version(),
		CPUs: runtime.NumCPU(), Secrets: c.Secrets, Clients: c.Clients, Duration: c.Duration.String(),
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				r.Commit = s.Value
			case "vcs.modified":
				r.Modified = s.Value == "true"
			}
		}
	}
	return r
}

// writeBenchTable prints the report as an aligned table.
func writeBenchTable(w io.Writer, r *benchReport) error {
	commit := r.Commit
	if r.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(w, "keyledger bench %s, commit %s, %s, %d CPUs\n", r.Date.Format(time.DateOnly), commit, r.GoVersion, r.CPUs)
	fmt.Fprintf(w, "%d secrets, %d clients, %s per phase, database: %s\n", r.Secrets, r.Clients, r.Duration, r.Database)
	if r.Server != "" {
		fmt.Fprintf(w, "server measured: %s, not Keyledger\n", r.Server)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tops/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\tserver RSS MB\tserver CPU s\tCPU µs/op\talloc kB/op\tGCs/s\tPostgreSQL µs/op\tmachine busy\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%.0f\t%.1f\t%.0f\t%.1f\t%.1f\t%.0f\t%.0f %%\t\n",
			p.Name, p.OpsPerSecond, p.P50Ms, p.P90Ms, p.P99Ms, p.MaxMs, errorsCell(p), p.ServerRSSMB, p.ServerCPUSeconds,
			p.ServerCPUMicrosPerOp, p.ServerAllocKBPerOp, p.ServerGCsPerSecond, p.PostgresCPUMicrosPerOp, p.MachineBusyPercent)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Phases {
		if d := p.ProjectionDelay; d != nil {
			fmt.Fprintf(w, "\n%s: %.0f/s offered, %.0f/s answered; projection delay (from an event's record time to its commit in the read models, %d batches): p50 <= %g ms, p99 <= %g ms\n",
				p.Name, p.OfferedPerSecond, p.OpsPerSecond, d.Batches, d.P50Ms, d.P99Ms)
		}
	}
	_, err := fmt.Fprintf(w, "\nserver at the end: RSS %.0f MB, peak RSS %.0f MB, %.1f CPU s in all\n", r.FinalRSSMB, r.PeakRSSMB, r.ServerCPUSeconds)
	return err
}

// errorsCell is "0", or the count, the share of all operations and the kinds.
func errorsCell(p benchPhaseResult) string {
	if p.Errors == 0 {
		return "0"
	}
	kinds := make([]string, 0, len(p.ErrorKinds))
	for k := range p.ErrorKinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	s := fmt.Sprintf("%d (%.0f%%:", p.Errors, 100*float64(p.Errors)/float64(p.Errors+p.Ops))
	for _, k := range kinds {
		s += fmt.Sprintf(" %s×%d", k, p.ErrorKinds[k])
	}
	return s + ")"
}

// writeBenchJSON writes a report (or, for several runs, benchRuns) to path.
func writeBenchJSON(path string, r any) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode JSON: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return nil
}
