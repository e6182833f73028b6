package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyledger/keyledger/projections/pgcluster"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// benchConfig is what `keyledger bench` was asked to do.
type benchConfig struct {
	Binary      string
	DatabaseURL string
	Secrets     int
	Clients     int
	SeedClients int
	Duration    time.Duration
	Timeout     time.Duration
	// LagRate is the rate of the projection-lag phase's updates per second.
	LagRate  float64
	JSON     string
	LogLevel string
	// Phases, when not empty, keeps only the timed phases whose names start with one
	// of these prefixes (seeding always runs): for profiling one phase.
	Phases []string
	// Runs is how many times the whole benchmark runs, each on a fresh server and
	// database; above 1 the report ends with every phase's medians (bench_median.go).
	Runs int
	// LatencyLog, when set, is the file every timed operation is written to
	// (bench_latency.go).
	LatencyLog string
	// Vault, when set, is a Vault or OpenBao binary to run the phases both servers
	// have against instead of Keyledger (bench_vault.go).
	Vault string
}

// maxBenchRuns bounds --runs: a full run at 100,000 secrets takes some 6 minutes.
const maxBenchRuns = 15

// newBenchCommand is `keyledger bench`: a load generator against a fresh server that it
// starts itself, so that two commits are compared on the same footing.
func newBenchCommand(cl cli) *cobra.Command {
	c := &benchConfig{}
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	fs.IntVar(&c.Secrets, "secrets", 100_000, "secrets seeded into the benchmark's organization")
	fs.IntVar(&c.Clients, "clients", 32, "concurrent clients in every timed phase")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "length of every timed phase")
	fs.StringVar(&c.JSON, "json", "", "also write the results as JSON to this file")
	fs.IntVar(&c.SeedClients, "seed-clients", 64, "concurrent creates while seeding")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "bound on one request; a request that takes longer is an error")
	fs.Float64Var(&c.LagRate, "lag-rate", defaultLagRate, "updates per second the projection-lag phase offers, whatever the server's pace")
	fs.StringVar(&c.Binary, "binary", "", "keyledger binary to start as the server (default: this one)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "an empty PostgreSQL database for the server (default: a new database on KEYLEDGER_TEST_DATABASE_URL, else a throwaway cluster)")
	withEnv(fs, "database-url", "KEYLEDGER_DATABASE_URL")
	fs.StringVar(&c.LogLevel, "log-level", "info", "the benchmark's own progress log: debug, info, warn, error")
	fs.IntVar(&c.Runs, "runs", 1, "how many times to run the whole benchmark, each on a fresh server and database; above 1 the table of each phase's medians follows the runs' own (a noisy machine's figures are compared as medians of 3)")
	fs.StringVar(&c.LatencyLog, "latency-log", "", "also write every timed operation (run, phase, start and latency in ms, outcome) to this tab-separated file")
	fs.StringVar(&c.Vault, "vault", "", "benchmark a fresh HashiCorp Vault or OpenBao server instead (the binary at this path; KV v2 on its raft storage, one node, fsynced): seeding, create, read one secret, the hot updates and reveal (a read with a file audit device), with the same clients, for comparing the two on one machine")
	fs.StringSliceVar(&c.Phases, "phases", nil, "run only the timed phases whose names start with one of these comma-separated prefixes, e.g. grid,reveal (default: all)")
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "benchmark a fresh server on loopback and print a table",
		Long: `Start a fresh keyledger server on loopback (embedded NATS in a temp dir, an empty
PostgreSQL database), seed an organization with --secrets secrets, then run each phase
for --duration at --clients concurrent clients: create, read one secret, hot update
(with and without expected_version), grid page (first, deep, q= search), reveal, values
fetch with a service token, mixed 90/10 read/write; then updates of random secrets
offered at --lag-rate per second (open loop, each timed from when it was due), with
the projection's delay from the server's /metrics. Every phase prints operations per
second, latency percentiles, errors (any non-2xx answer, 409s included), and the
server's RSS and CPU seconds, and how often its garbage collector ran. --runs N runs
it all N times on fresh servers and ends with each phase's medians. --json writes the
same for comparing commits; --latency-log writes every operation, for looking at what
the percentiles summarize in time. --vault PATH runs the phases Vault and OpenBao also
have (seeding, create, read one secret, the hot updates) against a fresh server of that
binary instead, with the same clients, and reveal as a read with a file audit device
enabled: the peer issue 11 measured Keyledger against.`,
		GroupID: groupServer,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchCommand(cmd.Context(), c, cl.stdout, cl.stderr, cl.getenv)
		},
	}
	addFlags(cmd, fs)
	completeWith(cmd, "log-level", "debug", "info", "warn", "error")
	_ = cmd.MarkFlagFilename("binary")
	return cmd
}

// wantsPhase says whether --phases selects the phase called name.
func (c *benchConfig) wantsPhase(name string) bool {
	if len(c.Phases) == 0 {
		return true
	}
	for _, prefix := range c.Phases {
		if strings.HasPrefix(name, strings.TrimSpace(prefix)) {
			return true
		}
	}
	return false
}

// validate refuses settings that would make a phase meaningless rather than slow.
func (c *benchConfig) validate() error {
	switch {
	case c.Secrets < 1:
		return errors.New("--secrets must be at least 1")
	case c.Clients < 1:
		return errors.New("--clients must be at least 1")
	case c.SeedClients < 1:
		return errors.New("--seed-clients must be at least 1")
	case c.Duration <= 0:
		return errors.New("--duration must be positive")
	case c.Timeout <= 0:
		return errors.New("--timeout must be positive")
	case !(c.LagRate > 0) || c.LagRate > 1e6:
		return errors.New("--lag-rate must be above 0 and at most 1000000")
	case c.Runs < 1 || c.Runs > maxBenchRuns:
		return fmt.Errorf("--runs must be between 1 and %d", maxBenchRuns)
	case c.Vault != "" && c.Binary != "":
		return errors.New("--vault and --binary each name the server to measure: give one")
	case c.Vault != "" && c.DatabaseURL != "":
		return errors.New("--vault benchmarks Vault, which keeps no PostgreSQL database: leave --database-url (KEYLEDGER_DATABASE_URL) unset")
	case c.Runs > 1 && c.DatabaseURL != "":
		// Every run needs an empty database, and the first leaves this one full.
		return errors.New("--runs above 1 makes a new database for every run: leave --database-url (KEYLEDGER_DATABASE_URL) unset")
	}
	return nil
}

// runBenchCommand prepares the database and the server, runs the benchmark and writes
// its report; whatever it started is stopped again, also after an error or Ctrl-C.
func runBenchCommand(ctx context.Context, c *benchConfig, stdout, stderr io.Writer, getenv func(string) string) (err error) {
	if err := c.validate(); err != nil {
		return err
	}
	logger := newLogger(c.LogLevel, stderr)
	binary := c.Binary
	if binary == "" && c.Vault == "" {
		if binary, err = os.Executable(); err != nil {
			return fmt.Errorf("bench: find this binary: %w", err)
		}
	}
	tmp, err := os.MkdirTemp("", "keyledger-bench-*")
	if err != nil {
		return fmt.Errorf("bench: temp dir: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	// Run as root, pgcluster runs PostgreSQL as the postgres user, who must be able to
	// enter this directory to reach its cluster; listing it stays private, and the
	// server's data dir inside is 0700.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return fmt.Errorf("bench: temp dir: %w", err)
	}

	var lat *latencyLog
	if c.LatencyLog != "" {
		if lat, err = createLatencyLog(c.LatencyLog); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, lat.close()) }()
	}

	var reports []*benchReport
	for run := 1; run <= c.Runs; run++ {
		dir := tmp
		if c.Runs > 1 {
			logger.Info("bench: run", "run", run, "of", c.Runs)
			dir = filepath.Join(tmp, fmt.Sprintf("run%d", run))
			if err := os.Mkdir(dir, 0o711); err != nil {
				return fmt.Errorf("bench: temp dir: %w", err)
			}
		}
		if lat != nil {
			lat.run = run
		}
		report, err := benchOnce(ctx, c, binary, dir, getenv, lat, logger)
		if c.Runs > 1 {
			// A run's log and database files go before the next run fills its own.
			err = errors.Join(err, os.RemoveAll(dir))
		}
		if err != nil {
			return err
		}
		if run > 1 {
			fmt.Fprintln(stdout)
		}
		if err := writeBenchTable(stdout, report); err != nil {
			return fmt.Errorf("bench: write table: %w", err)
		}
		reports = append(reports, report)
	}
	var out any = reports[0]
	if c.Runs > 1 {
		median := medianOf(reports)
		fmt.Fprintln(stdout)
		if err := writeMedianTable(stdout, median); err != nil {
			return fmt.Errorf("bench: write table: %w", err)
		}
		out = benchRuns{Runs: reports, Median: median}
	}
	if c.JSON != "" {
		if err := writeBenchJSON(c.JSON, out); err != nil {
			return err
		}
		logger.Info("bench: JSON written", "file", c.JSON)
	}
	return nil
}

// benchOnce runs the benchmark once on a fresh database and server of its own, under
// dir; whatever it started is stopped again, also after an error or Ctrl-C.
func benchOnce(ctx context.Context, c *benchConfig, binary, dir string, getenv func(string) string, lat *latencyLog, logger *slog.Logger) (report *benchReport, err error) {
	if c.Vault != "" {
		return benchVaultOnce(ctx, c, dir, lat, logger)
	}
	// Cleanup must run after Ctrl-C has cancelled ctx, so it gets a context of its own.
	cleanupCtx := context.WithoutCancel(ctx)
	db, err := openBenchDatabase(ctx, c.DatabaseURL, getenv, filepath.Join(dir, "postgres"), logger)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, db.close(cleanupCtx)) }()

	srv, err := startBenchServer(ctx, binary, filepath.Join(dir, "data"), db.url, logger)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, srv.stop(cleanupCtx)) }()

	vacuum := func(ctx context.Context) error { return pgcluster.Vacuum(ctx, db.url) }
	report, err = runBench(ctx, c, srv, vacuum, lat, logger)
	if err != nil {
		return nil, err
	}
	report.Database = db.kind
	return report, nil
}

// runBench seeds the organization, vacuums the database and runs every phase against
// srv; lat, when not nil, gets every timed operation.
func runBench(ctx context.Context, c *benchConfig, srv *benchServer, vacuum func(context.Context) error, lat *latencyLog, logger *slog.Logger) (*benchReport, error) {
	report := newBenchReport(c)
	b, err := newBenchRun(ctx, c, srv, logger)
	if err != nil {
		return nil, err
	}
	b.latency = lat
	seed, err := b.seed(ctx)
	if err != nil {
		return nil, err
	}
	report.Phases = append(report.Phases, seed)
	// Autovacuum takes to the tables the seeding filled some time after: its work
	// (a fifth of PostgreSQL's CPU in the create phase at 100,000, two fifths in the read
	// phase, in round 15's runs) landed in whichever phases ran then, which moved with
	// how fast the seeding went. Done now, untimed, it is in none.
	start := time.Now()
	if err := vacuum(ctx); err != nil {
		return nil, fmt.Errorf("bench: vacuum after seeding: %w", err)
	}
	logger.Info("bench: vacuumed and analyzed after seeding", "took", time.Since(start).Round(time.Millisecond))
	if err := b.findDeepCursor(ctx); err != nil {
		return nil, err
	}
	if err := b.runPhases(ctx, report, b.phases()); err != nil {
		return nil, err
	}
	return report, nil
}

// runPhases runs the phases --phases selects, one after the other, into report, and
// ends it with the server's memory and CPU.
func (b *benchRun) runPhases(ctx context.Context, report *benchReport, phases []benchPhase) error {
	for _, p := range phases {
		if !b.cfg.wantsPhase(p.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		b.logger.Info("bench: phase", "name", p.name, "clients", b.cfg.Clients, "duration", b.cfg.Duration)
		res := b.runPhase(ctx, p)
		b.logger.Info("bench: phase done", "name", p.name, "ops_per_s", fmt.Sprintf("%.0f", res.OpsPerSecond), "errors", res.Errors)
		report.Phases = append(report.Phases, res)
	}
	final, err := b.srv.stats()
	if err != nil {
		return err
	}
	report.FinalRSSMB, report.PeakRSSMB = mb(final.rss), mb(final.peakRSS)
	report.ServerCPUSeconds = final.cpuSeconds
	return nil
}
