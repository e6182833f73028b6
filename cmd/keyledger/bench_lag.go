package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The "projection lag at 1,000 commands/s sustained" is a rate, not a number
// of clients: a closed loop of clients would slow down with the server and never
// sustain it. measureRate offers operations at a fixed rate (open loop) to the phase's
// clients and times each from the instant it was due, so that a server that falls
// behind shows in the latencies and the achieved rate instead of slowing the offer
// down. The projection's own delay (from an event's record time until the read models
// committed it) is the server's histogram, read from /metrics before and after.

// defaultLagRate is the rate the issue names.
const defaultLagRate = 1000

// measureRate runs p's operation at rate operations per second until deadline, on at
// most clients operations at once; operations not yet started when one is due wait
// (and their wait counts in their latency).
func (b *benchRun) measureRate(ctx context.Context, p benchPhase, clients int, rate float64, deadline time.Time) benchPhaseResult {
	delayBefore, _ := b.projectionDelay(ctx)
	start := time.Now()
	due := make(chan time.Time, int(rate*time.Until(deadline).Seconds())+1)
	go func() {
		defer close(due)
		for k := 0; ; k++ {
			at := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
			if !at.Before(deadline) || ctx.Err() != nil {
				return
			}
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
			due <- at
		}
	}()
	res := b.drive(ctx, p, clients, start, func() (time.Time, bool) {
		at, ok := <-due
		return at, ok
	})
	res.OfferedPerSecond = rate
	if delayAfter, err := b.projectionDelay(ctx); err == nil {
		res.ProjectionDelay = delayAfter.since(delayBefore)
	} else {
		b.logger.Warn("bench: read the projection delay", "err", err)
	}
	return res
}

// histogram is a Prometheus histogram's cumulative buckets (upper bound → count).
type histogram struct {
	bounds []float64
	counts []float64
}

// since is the histogram of the observations made after earlier.
func (h histogram) since(earlier histogram) *benchDelay {
	if len(h.bounds) == 0 {
		return nil
	}
	diff := histogram{bounds: h.bounds, counts: slices.Clone(h.counts)}
	if slices.Equal(earlier.bounds, h.bounds) {
		for i := range diff.counts {
			diff.counts[i] -= earlier.counts[i]
		}
	}
	n := diff.counts[len(diff.counts)-1]
	if n == 0 {
		return &benchDelay{}
	}
	quantile := func(q float64) float64 {
		for i, c := range diff.counts {
			if c >= q*n {
				return diff.bounds[i] * 1000
			}
		}
		return math.Inf(1)
	}
	return &benchDelay{Batches: int(n), P50Ms: quantile(0.5), P99Ms: quantile(0.99)}
}

// benchDelay is the projection's delay in a phase, as bucket bounds: p99 ≤ P99Ms.
type benchDelay struct {
	Batches int     `json:"batches"`
	P50Ms   float64 `json:"p50_le_ms"`
	P99Ms   float64 `json:"p99_le_ms"`
}

// projectionDelay reads the server's keyledger_projection_delay_seconds histogram.
func (b *benchRun) projectionDelay(ctx context.Context) (histogram, error) {
	var h histogram
	err := b.scrape(ctx, func(r io.Reader) (err error) {
		h, err = parseHistogram(r, "keyledger_projection_delay_seconds")
		return err
	})
	return h, err
}

// scrape reads the server's /metrics and hands its text to read.
func (b *benchRun) scrape(ctx context.Context, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.baseURL+"/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return read(resp.Body)
}

// gcCount is the Go collector's count of the server's completed garbage collections,
// and allocBytes the bytes its heap has allocated in all.
const (
	gcCount    = "go_gc_duration_seconds_count"
	allocBytes = "go_memstats_alloc_bytes_total"
)

// serverRuntime is what the server's Go runtime says of its collector: how many
// garbage collections it has completed and how many bytes it has allocated; ok is
// false when /metrics did not say both.
func (b *benchRun) serverRuntime(ctx context.Context) (gcs, allocated float64, ok bool) {
	err := b.scrape(ctx, func(r io.Reader) error {
		v, found, err := parseSamples(r, gcCount, allocBytes)
		gcs, allocated, ok = v[0], v[1], found == 2
		return err
	})
	return gcs, allocated, ok && err == nil
}

// parseSamples reads the values of the samples names, ones without labels, from
// Prometheus text, in the order of names, and says how many it found.
func parseSamples(r io.Reader, names ...string) (vs []float64, found int, err error) {
	vs = make([]float64, len(names))
	seen := make([]bool, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() && found < len(names) {
		line := sc.Text()
		for i, name := range names {
			rest, ok := strings.CutPrefix(line, name+" ")
			if !ok || seen[i] {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return vs, found, fmt.Errorf("metrics: bad sample line %q", line)
			}
			vs[i], seen[i] = v, true
			found++
		}
	}
	return vs, found, sc.Err()
}

// parseHistogram reads the cumulative buckets of the histogram name (without labels
// other than le) from Prometheus text.
func parseHistogram(r io.Reader, name string) (histogram, error) {
	var h histogram
	prefix := name + `_bucket{le="`
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			return histogram{}, fmt.Errorf("metrics: bad bucket line %q", line)
		}
		bound, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" {
			bound, err = math.Inf(1), nil
		}
		if err != nil {
			return histogram{}, fmt.Errorf("metrics: bad bucket bound in %q", line)
		}
		n, err := strconv.ParseFloat(count, 64)
		if err != nil {
			return histogram{}, fmt.Errorf("metrics: bad bucket count in %q", line)
		}
		h.bounds, h.counts = append(h.bounds, bound), append(h.counts, n)
	}
	if err := sc.Err(); err != nil {
		return histogram{}, err
	}
	if len(h.bounds) == 0 {
		return histogram{}, errors.New("metrics: no " + name + " histogram")
	}
	return h, nil
}
