package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// benchRuns is the JSON of several runs (--runs): every run's report, then each
// phase's medians.
type benchRuns struct {
	Runs   []*benchReport `json:"runs"`
	Median *benchMedian   `json:"median"`
}

// benchMedian is each phase's medians over several runs of the same configuration: on
// a noisy machine one run says little, and issue 11's figures are medians of 3. Every
// figure is the median of the runs' own figures for that phase, taken one by one (the
// median p99 need not be the median run's p99), as benchstat compares runs; errors are
// summed, so that an error in any run shows.
type benchMedian struct {
	Runs int `json:"runs"`
	// Server is the runs' Server (--vault), empty for Keyledger.
	Server     string             `json:"server,omitempty"`
	Phases     []benchPhaseMedian `json:"phases"`
	FinalRSSMB float64            `json:"final_rss_mb"`
	PeakRSSMB  float64            `json:"peak_rss_mb"`
}

// benchPhaseMedian is one phase's row of a benchMedian.
type benchPhaseMedian struct {
	benchPhaseResult
	// RunsOpsPerSecond is every run's ops/s, in the order they ran.
	RunsOpsPerSecond []float64 `json:"runs_ops_per_second"`
	// RunsP99Ms is every run's p99, in the order they ran.
	RunsP99Ms []float64 `json:"runs_p99_ms"`
	// RunsProjectionDelayP99Ms is every run's projection delay p99 (a fixed-rate phase).
	RunsProjectionDelayP99Ms []float64 `json:"runs_projection_delay_p99_le_ms,omitempty"`
}

// medianOf is the medians of reports, which ran the same phases in the same order
// (the same configuration); a phase missing from a run counts in none of its medians.
func medianOf(reports []*benchReport) *benchMedian {
	m := &benchMedian{Runs: len(reports), Server: reports[0].Server}
	for i, p := range reports[0].Phases {
		var runs []benchPhaseResult
		for _, r := range reports {
			if i < len(r.Phases) && r.Phases[i].Name == p.Name {
				runs = append(runs, r.Phases[i])
			}
		}
		m.Phases = append(m.Phases, medianPhase(runs))
	}
	m.FinalRSSMB = median(reports, func(r *benchReport) float64 { return r.FinalRSSMB })
	m.PeakRSSMB = median(reports, func(r *benchReport) float64 { return r.PeakRSSMB })
	return m
}

// medianPhase is the medians of one phase's runs.
func medianPhase(runs []benchPhaseResult) benchPhaseMedian {
	first := runs[0]
	out := benchPhaseMedian{benchPhaseResult: benchPhaseResult{Name: first.Name, Clients: first.Clients, OfferedPerSecond: first.OfferedPerSecond}}
	for i, f := range medianFigures(&out.benchPhaseResult) {
		*f = median(runs, func(p benchPhaseResult) float64 { return *medianFigures(&p)[i] })
	}
	var delays []benchPhaseResult
	for _, p := range runs {
		out.Ops += p.Ops
		out.Errors += p.Errors
		for k, n := range p.ErrorKinds {
			if out.ErrorKinds == nil {
				out.ErrorKinds = map[string]int{}
			}
			out.ErrorKinds[k] += n
		}
		out.RunsOpsPerSecond = append(out.RunsOpsPerSecond, p.OpsPerSecond)
		out.RunsP99Ms = append(out.RunsP99Ms, p.P99Ms)
		if p.ProjectionDelay != nil {
			delays = append(delays, p)
			out.RunsProjectionDelayP99Ms = append(out.RunsProjectionDelayP99Ms, p.ProjectionDelay.P99Ms)
		}
	}
	if len(delays) > 0 {
		out.ProjectionDelay = &benchDelay{
			Batches: int(median(delays, func(p benchPhaseResult) float64 { return float64(p.ProjectionDelay.Batches) })),
			P50Ms:   median(delays, func(p benchPhaseResult) float64 { return p.ProjectionDelay.P50Ms }),
			P99Ms:   median(delays, func(p benchPhaseResult) float64 { return p.ProjectionDelay.P99Ms }),
		}
	}
	return out
}

// medianFigures are the figures of p that a median row takes the medians of.
func medianFigures(p *benchPhaseResult) []*float64 {
	return []*float64{&p.Seconds, &p.OpsPerSecond, &p.P50Ms, &p.P90Ms, &p.P99Ms, &p.MaxMs, &p.ServerRSSMB,
		&p.ServerCPUSeconds, &p.ServerCPUMicrosPerOp, &p.ServerAllocKBPerOp, &p.ServerGCsPerSecond, &p.PostgresCPUMicrosPerOp, &p.MachineBusyPercent}
}

// median is the median of f over xs: the middle value, or the mean of the two middle
// values of an even count.
func median[T any](xs []T, f func(T) float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	vs := make([]float64, len(xs))
	for i, x := range xs {
		vs[i] = f(x)
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// writeMedianTable prints the medians as writeBenchTable prints a run, with every
// run's ops/s and p99 beside their medians.
func writeMedianTable(w io.Writer, m *benchMedian) error {
	fmt.Fprintf(w, "median of %d runs (each figure the median of the runs' own; errors summed over the runs)\n", m.Runs)
	if m.Server != "" {
		fmt.Fprintf(w, "server measured: %s, not Keyledger\n", m.Server)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tops/s\t(runs)\tp50 ms\tp90 ms\tp99 ms\t(runs)\tmax ms\terrors\tserver RSS MB\tCPU µs/op\talloc kB/op\tGCs/s\tPostgreSQL µs/op\tmachine busy\t")
	for _, p := range m.Phases {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.1f\t%.1f\t%.1f\t%s\t%.1f\t%s\t%.0f\t%.0f\t%.1f\t%.1f\t%.0f\t%.0f %%\t\n",
			p.Name, p.OpsPerSecond, runsCell(p.RunsOpsPerSecond, "%.0f"), p.P50Ms, p.P90Ms, p.P99Ms, runsCell(p.RunsP99Ms, "%.1f"),
			p.MaxMs, errorsCell(p.benchPhaseResult), p.ServerRSSMB, p.ServerCPUMicrosPerOp, p.ServerAllocKBPerOp, p.ServerGCsPerSecond,
			p.PostgresCPUMicrosPerOp, p.MachineBusyPercent)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range m.Phases {
		if d := p.ProjectionDelay; d != nil {
			fmt.Fprintf(w, "\n%s: %.0f/s offered, %s/s answered; projection delay p50 <= %g ms, p99 <= %g ms (runs: %s)\n",
				p.Name, p.OfferedPerSecond, runsCell(p.RunsOpsPerSecond, "%.0f"), d.P50Ms, d.P99Ms, runsCell(p.RunsProjectionDelayP99Ms, "%g"))
		}
	}
	_, err := fmt.Fprintf(w, "\nserver at the end: RSS %.0f MB, peak RSS %.0f MB (medians)\n", m.FinalRSSMB, m.PeakRSSMB)
	return err
}

// runsCell is the runs' values, formatted, separated by slashes.
func runsCell(vs []float64, format string) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf(format, v)
	}
	return strings.Join(parts, " / ")
}
