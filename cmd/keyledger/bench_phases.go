package main

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
)

// benchRun is the state the phases share: the clients, the organization and the
// secrets seeded into it.
type benchRun struct {
	cfg    *benchConfig
	srv    *benchServer
	logger *slog.Logger
	// admin seeds the hot secrets and walks the grid (untimed); the phases send
	// their requests on each worker's benchConn to base, as token (the bootstrap
	// admin's) or serviceToken (the values fetch).
	admin        *client.Client
	org          string
	http         *http.Client // reads /metrics
	token        string
	serviceToken string
	base         *url.URL
	paths        benchPaths

	ids        []string // seeded secrets, read-only once seeding is done
	hot        string   // updated by every client without expected_version
	hotChecked string   // updated by every client with expected_version
	// hotVersion is the newest version of hotChecked any client has seen.
	hotVersion atomic.Int64
	deepCursor string
	created    atomic.Int64 // names of the create phase
	// wellFormed holds the hashes (under pageSeed) of the grid pages found well-formed
	// (see gridPage).
	wellFormed sync.Map
	pageSeed   maphash.Seed
	// latency, when not nil, gets every timed operation (--latency-log).
	latency *latencyLog
}

// benchPhase is one timed phase: op is one operation, timed as a whole.
type benchPhase struct {
	name string
	op   func(ctx context.Context, w *benchWorker) error
	// rate, when set, offers op at that many per second (see measureRate).
	rate float64
}

// benchWorker is one client's own state; it is never shared.
type benchWorker struct {
	rng  *mrand.Rand
	conn benchConn
	body []byte // the request body being built
	name []byte // the name of the secret being created
}

// newBenchRun logs in as the bootstrap admin and creates the organization and a
// service token for its production values.
func newBenchRun(ctx context.Context, c *benchConfig, srv *benchServer, logger *slog.Logger) (*benchRun, error) {
	// The typed client and hc make the untimed calls only (setting up, walking the
	// grid, /metrics): the phases send theirs on connections of their own (benchConn).
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	hc := &http.Client{Transport: t}

	anon, err := client.New(srv.baseURL, client.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	login, err := anon.Login(ctx, srv.email, srv.password)
	if err != nil {
		return nil, fmt.Errorf("bench: log in as the bootstrap admin: %w", err)
	}
	admin, err := client.New(srv.baseURL, client.WithHTTPClient(hc), client.WithToken(login.Token), client.WithUserAgent("keyledger-bench"))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	org, err := admin.CreateOrg(ctx, "Bench")
	if err != nil {
		return nil, fmt.Errorf("bench: create the organization: %w", err)
	}
	token, err := admin.CreateServiceToken(ctx, org.ID, client.CreateServiceTokenRequest{Name: "bench", Environments: []string{client.Production}})
	if err != nil {
		return nil, fmt.Errorf("bench: create a service token: %w", err)
	}
	base, err := parseBase(srv.baseURL)
	if err != nil {
		return nil, err
	}
	return &benchRun{cfg: c, srv: srv, logger: logger, admin: admin, org: org.ID, http: hc, token: login.Token,
		serviceToken: token.Token, base: base, paths: newBenchPaths(org.ID), pageSeed: maphash.MakeSeed()}, nil
}

// benchValue is a fresh random value, so that no update is a no-op the server skips:
// appendBenchValue's, without its quotes.
func benchValue() string {
	q := appendBenchValue(nil)
	return string(q[1 : len(q)-1])
}

// seedPrefix and 7 zero-padded digits of i are the name of seeded secret i; the zero
// padding keeps the grid's name order equal to i's order, and makes q=SEED_<prefix>
// match a block of 100 secrets.
const seedPrefix = "BENCH_SEED_"

// seed creates the two hot secrets and cfg.Secrets others, with a value in every
// environment, at cfg.SeedClients concurrent creates. It is reported as a phase of its
// own; a failed create is an error there, and the run goes on with the secrets made.
func (b *benchRun) seed(ctx context.Context) (benchPhaseResult, error) {
	for i, hot := range []*string{&b.hot, &b.hotChecked} {
		s, err := b.admin.CreateSecret(ctx, b.org, client.CreateSecretRequest{
			Name:   fmt.Sprintf("BENCH_HOT_%d", i),
			Values: map[string]string{client.Production: benchValue()},
		})
		if err != nil {
			return benchPhaseResult{}, fmt.Errorf("bench: create a hot secret: %w", err)
		}
		*hot = s.ID
	}
	checked, err := b.admin.GetSecret(ctx, b.org, b.hotChecked)
	if err != nil {
		return benchPhaseResult{}, fmt.Errorf("bench: read a hot secret: %w", err)
	}
	b.hotVersion.Store(int64(checked.Version))
	// A seeded secret has a value in every environment (in encoding/json's order of
	// a map's keys).
	envs := []string{client.Development, client.Production, client.Staging}
	return b.seedWith(ctx, func(ctx context.Context, w *benchWorker, name []byte) (string, error) {
		s, err := b.createSecret(ctx, w, name, envs...)
		return string(s.id), err
	})
}

// seedWith makes cfg.Secrets secrets named seedPrefix and their number, at
// cfg.SeedClients concurrent calls of create (which answers the secret's id), and keeps
// the ids of those made in b.ids. It is reported as a phase of its own; a failed create
// is an error there, and the run goes on with the secrets made.
func (b *benchRun) seedWith(ctx context.Context, create func(ctx context.Context, w *benchWorker, name []byte) (string, error)) (benchPhaseResult, error) {
	b.logger.Info("bench: seeding", "secrets", b.cfg.Secrets, "clients", b.cfg.SeedClients)
	ids := make([]string, b.cfg.Secrets)
	var next atomic.Int64
	phase := benchPhase{name: "seed (create)", op: func(ctx context.Context, w *benchWorker) error {
		i := int(next.Add(1)) - 1
		if i >= len(ids) {
			return errPhaseDone
		}
		w.name = appendPadded(append(w.name[:0], seedPrefix...), i, 7)
		id, err := create(ctx, w, w.name)
		if err == nil {
			ids[i] = id
		}
		return err
	}}
	stopProgress := b.logProgress(ctx, &next, len(ids))
	res := b.measure(ctx, phase, b.cfg.SeedClients, time.Time{})
	stopProgress()
	for _, id := range ids {
		if id != "" {
			b.ids = append(b.ids, id)
		}
	}
	if len(b.ids) == 0 {
		return res, errors.New("bench: seeding created no secret")
	}
	b.logger.Info("bench: seeded", "secrets", len(b.ids), "ops_per_s", fmt.Sprintf("%.0f", res.OpsPerSecond), "errors", res.Errors)
	return res, nil
}

// seedProgressEvery is how often seeding says how far it is: it takes minutes at
// 100,000 secrets, and silence would look like a hang.
const seedProgressEvery = 15 * time.Second

// logProgress logs how many of total creates have started until the returned stop.
func (b *benchRun) logProgress(ctx context.Context, started *atomic.Int64, total int) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(seedProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				b.logger.Info("bench: seeding", "started", min(int(started.Load()), total), "of", total)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// findDeepCursor walks the grid (untimed) to the page that starts half-way through the
// seeded secrets, for the deep-page phase.
func (b *benchRun) findDeepCursor(ctx context.Context) error {
	target := len(b.ids) / 2
	if target == 0 {
		return nil
	}
	limit := min(1000, target)
	var seen int
	cursor := ""
	for seen < target {
		page, err := b.admin.ListSecrets(ctx, b.org, client.SecretFilter{Limit: limit, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("bench: walk the grid to a deep page: %w", err)
		}
		seen += len(page.Items)
		if page.NextCursor == "" || len(page.Items) == 0 {
			break
		}
		cursor = page.NextCursor
	}
	b.deepCursor = cursor
	return nil
}

// phases are the timed phases, in the order they run.
func (b *benchRun) phases() []benchPhase {
	prod := client.Production
	randomID := func(w *benchWorker) string { return b.ids[w.rng.IntN(len(b.ids))] }
	firstPage := gridQuery(url.Values{"limit": {"100"}})
	deepPage := gridQuery(url.Values{"limit": {"100"}, "cursor": {b.deepCursor}})
	return []benchPhase{
		{"create", func(ctx context.Context, w *benchWorker) error {
			w.name = appendPadded(append(w.name[:0], "BENCH_NEW_"...), int(b.created.Add(1)), 7)
			_, err := b.createSecret(ctx, w, w.name, prod)
			return err
		}, 0},
		{"read one secret", func(ctx context.Context, w *benchWorker) error {
			_, err := b.getSecret(ctx, w, randomID(w))
			return err
		}, 0},
		{"hot update", func(ctx context.Context, w *benchWorker) error {
			_, err := b.updateSecret(ctx, w, b.hot, nil)
			return err
		}, 0},
		{"hot update, expected_version", b.checkedUpdate, 0},
		{"grid first page", func(ctx context.Context, w *benchWorker) error {
			return b.gridPage(ctx, w, firstPage)
		}, 0},
		{"grid deep page", func(ctx context.Context, w *benchWorker) error {
			return b.gridPage(ctx, w, deepPage)
		}, 0},
		{"grid q= search", func(ctx context.Context, w *benchWorker) error {
			// A different block of 100 names each time, so no answer is a repeat: the
			// query url.Values.Encode writes for q=seed_%05d.
			w.name = appendPadded(append(w.name[:0], "?limit=100&q=seed_"...), w.rng.IntN(max(1, len(b.ids)/100)), 5)
			return b.gridPage(ctx, w, string(w.name))
		}, 0},
		{"reveal", func(ctx context.Context, w *benchWorker) error {
			_, err := b.reveal(ctx, w, randomID(w), prod)
			return err
		}, 0},
		{"values (service token)", func(ctx context.Context, w *benchWorker) error {
			return b.values(ctx, w)
		}, 0},
		{"mixed 90/10 read/write", func(ctx context.Context, w *benchWorker) error {
			id := randomID(w)
			if w.rng.IntN(10) == 0 {
				_, err := b.updateSecret(ctx, w, id, nil)
				return err
			}
			_, err := b.getSecret(ctx, w, id)
			return err
		}, 0},
		{fmt.Sprintf("projection lag, %g updates/s", b.cfg.LagRate), func(ctx context.Context, w *benchWorker) error {
			_, err := b.updateSecret(ctx, w, randomID(w), nil)
			return err
		}, b.cfg.LagRate},
	}
}

// checkedUpdate updates the hot secret with the newest version any client has seen,
// as a careful client does. A 409 is an error of the phase; the client then reads the
// secret again (inside the failed operation) to learn the version it missed.
func (b *benchRun) checkedUpdate(ctx context.Context, w *benchWorker) error {
	v := int(b.hotVersion.Load())
	s, err := b.updateSecret(ctx, w, b.hotChecked, &v)
	if err == nil {
		b.noteHotVersion(s.version)
		return nil
	}
	if client.IsCode(err, client.CodeVersionConflict) {
		if fresh, gerr := b.getSecret(ctx, w, b.hotChecked); gerr == nil {
			b.noteHotVersion(fresh.version)
		}
	}
	return err
}

// noteHotVersion raises hotVersion to v unless a newer one is known.
func (b *benchRun) noteHotVersion(v int) {
	for {
		cur := b.hotVersion.Load()
		if int64(v) <= cur || b.hotVersion.CompareAndSwap(cur, int64(v)) {
			return
		}
	}
}

// errPhaseDone ends a worker of a phase that has a fixed amount of work (seeding).
var errPhaseDone = errors.New("phase done")

// runPhase runs p for the configured duration at the configured clients.
func (b *benchRun) runPhase(ctx context.Context, p benchPhase) benchPhaseResult {
	if p.rate > 0 {
		return b.measureRate(ctx, p, b.cfg.Clients, p.rate, time.Now().Add(b.cfg.Duration))
	}
	return b.measure(ctx, p, b.cfg.Clients, time.Now().Add(b.cfg.Duration))
}

// measure runs p's operation in a loop on each of clients workers until deadline (or,
// with a zero deadline, until the operation says errPhaseDone). No operation starts
// after the deadline; those under way finish (each bounded by cfg.Timeout) and count,
// and the phase's time runs until the last has finished, so the tail is not hidden.
func (b *benchRun) measure(ctx context.Context, p benchPhase, clients int, deadline time.Time) benchPhaseResult {
	return b.drive(ctx, p, clients, time.Time{}, func() (time.Time, bool) {
		now := time.Now()
		return now, ctx.Err() == nil && (deadline.IsZero() || now.Before(deadline))
	})
}

// drive runs p's operation on each of clients workers for as long as next says, and
// summarizes the phase. next gives the instant an operation is timed from (now, in a
// closed loop; when it was due, at a fixed rate) and whether one more is to run;
// origin is when the phase's schedule began (zero: when drive starts its workers),
// which the latency log counts its operations' starts from.
func (b *benchRun) drive(ctx context.Context, p benchPhase, clients int, origin time.Time, next func() (time.Time, bool)) benchPhaseResult {
	gcsBefore, allocBefore, runtimeSaid := b.serverRuntime(ctx)
	before, _ := b.srv.stats()
	start := time.Now()
	if origin.IsZero() {
		origin = start
	}
	samples := make([]benchSamples, clients)
	var ops [][]benchOp
	if b.latency != nil {
		ops = make([][]benchOp, clients)
	}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			w := &benchWorker{rng: mrand.New(mrand.NewPCG(uint64(i), uint64(start.UnixNano()))), conn: newBenchConn(b.base)}
			defer w.conn.close()
			for {
				from, more := next()
				if !more {
					return
				}
				opCtx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
				err := p.op(opCtx, w)
				cancel()
				if errors.Is(err, errPhaseDone) {
					return
				}
				took := time.Since(from)
				samples[i].add(took, err)
				if ops != nil {
					op := benchOp{start: from.Sub(origin), took: took}
					if err != nil {
						op.failed = errorKind(err)
					}
					ops[i] = append(ops[i], op)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, _ := b.srv.stats()
	b.latency.write(p.name, ops)
	res := summarize(p.name, clients, elapsed, samples, before, after)
	if gcsAfter, allocAfter, ok := b.serverRuntime(ctx); ok && runtimeSaid {
		res.ServerGCsPerSecond = (gcsAfter - gcsBefore) / elapsed.Seconds()
		if res.Ops > 0 {
			res.ServerAllocKBPerOp = (allocAfter - allocBefore) / 1024 / float64(res.Ops)
		}
	}
	return res
}
