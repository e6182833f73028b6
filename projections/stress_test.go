//go:build stress

package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/projections"
)

// peakHeap samples the Go heap until stop is closed and returns the highest value.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// cpuMeter adds up the CPU time of this process and of the PostgreSQL backends that
// serve one database (found by their process titles, sampled every 50 ms until stop
// is called; Linux only, the backends read from /proc, so a local server). On a shared
// machine the CPU an operation costs is steadier than the time it takes.
type cpuMeter struct {
	stop func() (self, pg time.Duration)
}

func meterCPU(t *testing.T, databaseURL string) cpuMeter {
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	title := " " + strings.TrimPrefix(u.Path, "/") + " "
	selfNow := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// backends maps a backend's pid to the CPU ticks it had when first and last seen.
	type ticks struct{ first, last int64 }
	backends := map[int]*ticks{}
	// others are the processes that are not PostgreSQL's, read once (reading every
	// title at every sample cost a sixth of a replay's CPU). PostgreSQL's are read
	// again: a backend just forked has the server's title until it names its database.
	others := map[int]bool{}
	sample := func() {
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			pid, err := strconv.Atoi(d.Name())
			if err != nil || others[pid] {
				continue
			}
			if backends[pid] == nil {
				cmd, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
				if err != nil || !strings.Contains(string(cmd), "postgres") {
					others[pid] = true
					continue
				}
				if !strings.HasPrefix(string(cmd), "postgres: ") {
					continue
				}
				if !strings.Contains(string(cmd), title) {
					// Another database's backend (its title names its client, after
					// the database) is read once: other tests' backends, read at
					// every sample, were a tenth of a rebuild's CPU "here".
					if strings.Contains(string(cmd), "(") {
						others[pid] = true
					}
					continue
				}
			}
			stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
			if err != nil {
				continue
			}
			// Fields after the command's closing parenthesis: utime and stime are the
			// 12th and 13th.
			f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			if len(f) < 13 {
				continue
			}
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			if b := backends[pid]; b != nil {
				b.last = ut + st
			} else {
				backends[pid] = &ticks{first: ut + st, last: ut + st}
			}
		}
	}
	began := selfNow()
	sample()
	// A backend first seen later started later: all its ticks count.
	for _, b := range backends {
		b.first = -b.first
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				sample()
				return
			case <-tk.C:
				sample()
			}
		}
	}()
	return cpuMeter{stop: func() (time.Duration, time.Duration) {
		close(done)
		<-finished
		var pg int64
		for _, b := range backends {
			if b.first < 0 {
				pg += b.last + b.first
			} else {
				pg += b.last
			}
		}
		return selfNow() - began, time.Duration(pg) * 10 * time.Millisecond
	}}
}

// cpuProfile profiles the CPU into dir/name.pprof until the returned stop is called,
// when KL_STRESS_PROFILE names a directory; otherwise it does nothing. The write phase
// dwarfs what is measured, so a -cpuprofile of the whole test would hide it.
func cpuProfile(t *testing.T, name string) (stop func()) {
	dir := os.Getenv("KL_STRESS_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	// The allocations profile counts from the process's start: one taken before and
	// one after give what the phase allocated (go tool pprof -base).
	writeAllocs(t, filepath.Join(dir, name+"-allocs-before.pprof"))
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			t.Error(err)
		}
		writeAllocs(t, filepath.Join(dir, name+"-allocs.pprof"))
	}
}

// writeAllocs writes the allocations profile to path.
func writeAllocs(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		t.Error(err)
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
}

// allocMeter counts the allocations and collections of this process (NATS embedded)
// between its start and stop: what garbage a phase makes, steadier than its time.
type allocMeter struct {
	before runtime.MemStats
}

func meterAllocs() *allocMeter {
	m := &allocMeter{}
	runtime.ReadMemStats(&m.before)
	return m
}

// stop returns the allocations, bytes allocated and collections since the start.
func (m *allocMeter) stop() (allocs, bytes uint64, gcs uint32) {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return after.Mallocs - m.before.Mallocs, after.TotalAlloc - m.before.TotalAlloc, after.NumGC - m.before.NumGC
}

// stressRounds is how many times the rebuild and the replay run over the one log
// written (KL_STRESS_ROUNDS, default 1): writing it takes minutes, and one run of
// either on a shared machine says little.
func stressRounds(t *testing.T) int {
	s := os.Getenv("KL_STRESS_ROUNDS")
	if s == "" {
		return 1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("KL_STRESS_ROUNDS=%q: want a positive number", s)
	}
	return n
}

// stressEvents is how many events TestRebuildAndReplay100k writes (KL_STRESS_EVENTS,
// default 100,000; the mix scales with it): fewer make a quick check of a change.
func stressEvents(t *testing.T) int {
	s := os.Getenv("KL_STRESS_EVENTS")
	if s == "" {
		return 100_000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 10_000 {
		t.Fatalf("KL_STRESS_EVENTS=%q: want a number of at least 10000", s)
	}
	return n
}

// TestRebuildAndReplay100k writes 100,000 events of every kind, then rebuilds the read
// models from sequence 1 and replays the org from the log alone, and reports events/s
// and peak heap for both. Run it with `make test-stress`.
func TestRebuildAndReplay100k(t *testing.T) {
	total := stressEvents(t)
	r := newRig(t, true)
	ctx := context.Background()
	start := time.Now()
	var ids []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 1500 * total / 100_000 {
				s := r.create(t, fmt.Sprintf("KEY_%d_%04d", w, i), map[domain.Environment]string{
					domain.Development: fmt.Sprint("dev-", i), domain.Production: fmt.Sprint("sk_live_0123456789abcdefghij-", i)})
				v := domain.NewPlaintext(fmt.Sprint("rotated-", i))
				if _, err := r.h.UpdateSecret.Handle(ctx, r.owner, commands.UpdateSecret{OrgID: r.orgID, SecretID: s.ID,
					Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v, domain.Staging: &v}}); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if _, err := r.h.DeleteSecret.Handle(ctx, r.owner, commands.DeleteSecret{OrgID: r.orgID, SecretID: s.ID}); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				mu.Lock()
				ids = append(ids, s.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	head, err := r.env.Store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The rest are reveals, the bulk of a real log, appended as the command does.
	var next atomic.Int64
	for range 8 {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if uint64(n)+head > uint64(total) {
					return
				}
				id := ids[int(n)%len(ids)]
				if _, err := r.env.Store.Append(ctx, eventstore.Pending{
					Aggregate: eventstore.Aggregate{OrgID: r.orgID, Type: domain.AggregateAccess, ID: id}, Unchecked: true,
					Events: []domain.Event{domain.SecretRevealed{SecretID: id, Env: domain.Production, Version: 2}},
					Actor:  domain.Actor{UserID: r.owner.UserID, IP: "10.1.2.3", UserAgent: "stress"},
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	last, err := r.env.Store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d events in %s", last, time.Since(start).Round(time.Millisecond))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := r.db.Progress.WaitFor(wctx, last); err != nil {
		t.Fatal(err)
	}

	var state projections.ReplayedOrg
	// KL_STRESS_REPLAY_ONLY=1 measures the replay alone: a round of it takes seconds,
	// one of the rebuild minutes on a loaded machine.
	replayOnly := os.Getenv("KL_STRESS_REPLAY_ONLY") == "1"
	for round := range stressRounds(t) {
		if !replayOnly {
			stressRebuild(t, r, round)
		}
		runtime.GC()
		stop := make(chan struct{})
		peak := peakHeap(stop)
		stopProfile := cpuProfile(t, fmt.Sprint("replay-", round))
		meter := meterCPU(t, r.url)
		allocs := meterAllocs()
		began := time.Now()
		var err error
		state, err = projections.ReplayOrg(ctx, r.env.Store, r.orgID, projections.ReplayLimit{})
		d := time.Since(began)
		n, bytes, gcs := allocs.stop()
		self, _ := meter.stop()
		stopProfile()
		close(stop)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("replay: %d events in %s = %.0f events/s, peak heap %.1f MiB, %d live secrets, CPU %s = %.1f µs/event, %.1f allocations and %.0f bytes/event, %d GCs",
			state.Seq, d.Round(time.Millisecond), float64(state.Seq)/d.Seconds(), float64(<-peak)/(1<<20), len(state.Secrets),
			self.Round(time.Millisecond), float64(self.Microseconds())/float64(state.Seq),
			float64(n)/float64(state.Seq), float64(bytes)/float64(state.Seq), gcs)
	}
	live, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(state.Secrets) != len(ids) || len(live) != min(1000, len(ids)) {
		t.Fatalf("replay has %d secrets, read model %d, want %d", len(state.Secrets), len(live), len(ids))
	}
	ok, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store)
	if err != nil || !ok.OK {
		t.Fatalf("verify: %+v %v", ok, err)
	}
	t.Logf("audit verify: %d entries ok", ok.Checked)
}

// stressRebuild rebuilds the read models of r from sequence 1 and reports the rate,
// the CPU, the allocations and the peak heap.
func stressRebuild(t *testing.T, r *rig, round int) {
	t.Helper()
	ctx := context.Background()
	runtime.GC()
	stop := make(chan struct{})
	peak := peakHeap(stop)
	stopProfile := cpuProfile(t, fmt.Sprint("rebuild-", round))
	meter := meterCPU(t, r.url)
	rallocs := meterAllocs()
	rep, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	rn, rbytes, rgcs := rallocs.stop()
	self, pg := meter.stop()
	stopProfile()
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebuild: %d events in %s = %.0f events/s, peak heap %.1f MiB, CPU %s here + %s PostgreSQL = %.1f µs/event, %.1f allocations and %.0f bytes/event, %d GCs",
		rep.Events, rep.Duration.Round(time.Millisecond), rep.EventsPerS, float64(<-peak)/(1<<20), self.Round(time.Millisecond), pg.Round(time.Millisecond),
		float64((self+pg).Microseconds())/float64(rep.Events), float64(rn)/float64(rep.Events), float64(rbytes)/float64(rep.Events), rgcs)
}

// TestAuditExportOfAMillionRowsInConstantMemory streams a trail of 1,000,000 entries
// (inserted straight into the read model, chained or not: export does not verify) and
// reports the time and the peak heap, which must not grow with the trail.
func TestAuditExportOfAMillionRowsInConstantMemory(t *testing.T) {
	const rows = 1_000_000
	r := newRig(t, true)
	ctx := context.Background()
	conn := connectLive(t, r.url)
	if _, err := conn.Exec(ctx, `SET keyledger.bypass_rls = 'on'`); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err := conn.Exec(ctx, `INSERT INTO audit_log (org_id, seq, idx, event_id, at, action, outcome, actor_id, actor_email,
			secret_id, env, details, ip, user_agent, prev_hash, hash)
		SELECT $1, 1000000 + g, 0, 'EV' || g, now(), 'secret.revealed', 'success', $2, 'owner@example.com',
			gen_random_uuid(), 'production', 'version 1', '10.0.0.1', 'stress/1.0', md5(g::text), md5((g + 1)::text)
		FROM generate_series(1, $3) g`, r.orgID, r.owner.UserID, rows)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("inserted %d audit rows in %s", rows, time.Since(began).Round(time.Millisecond))
	runtime.GC()
	stop := make(chan struct{})
	peak := peakHeap(stop)
	began = time.Now()
	n := 0
	err = r.db.Audit.StreamAudit(ctx, r.orgID, projections.AuditFilter{}, func(projections.AuditEntry) error { n++; return nil })
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(began)
	t.Logf("streamed %d entries in %s = %.0f rows/s, peak heap %.1f MiB", n, d.Round(time.Millisecond), float64(n)/d.Seconds(), float64(<-peak)/(1<<20))
	if n < rows {
		t.Fatalf("streamed %d rows, want at least %d", n, rows)
	}
}
