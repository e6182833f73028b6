package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
	cfg     *benchConfig
	srv     *benchServer
	logger  *slog.Logger
	admin   *client.Client
	service *client.Client
	org     string
	// http and token read grid pages without the typed client (see gridPage); base
	// and token reveal values without it (revealConn).
	http  *http.Client
	token string
	base  *url.URL

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
	pageBufs   sync.Pool // *bytes.Buffer, for reading grid pages
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
	rng *mrand.Rand
	// reveal is the worker's connection for the reveal phase (revealConn).
	reveal revealConn
}

// newBenchRun logs in as the bootstrap admin and creates the organization and a
// service token for its production values.
func newBenchRun(ctx context.Context, c *benchConfig, srv *benchServer, logger *slog.Logger) (*benchRun, error) {
	// One idle connection per client: with net/http's default of 2 most requests of a
	// 32-client phase would open a new TCP connection and measure that.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = max(c.Clients, c.SeedClients) + 8
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
	service, err := client.New(srv.baseURL, client.WithHTTPClient(hc), client.WithToken(token.Token), client.WithUserAgent("keyledger-bench"))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	base, err := parseBase(srv.baseURL)
	if err != nil {
		return nil, err
	}
	return &benchRun{cfg: c, srv: srv, logger: logger, admin: admin, service: service, org: org.ID, http: hc, token: login.Token,
		base: base, pageSeed: maphash.MakeSeed()}, nil
}

// benchValue is a fresh random value, so that no update is a no-op the server skips.
func benchValue() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "bench_" + hex.EncodeToString(b)
}

// seedName is the name of seeded secret i; the zero padding keeps the grid's name order
// equal to i's order, and makes q=SEED_<prefix> match a block of 100 secrets.
func seedName(i int) string { return fmt.Sprintf("BENCH_SEED_%07d", i) }

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
	b.logger.Info("bench: seeding", "secrets", b.cfg.Secrets, "clients", b.cfg.SeedClients)
	ids := make([]string, b.cfg.Secrets)
	var next atomic.Int64
	phase := benchPhase{name: "seed (create)", op: func(ctx context.Context, _ *benchWorker) error {
		i := int(next.Add(1)) - 1
		if i >= len(ids) {
			return errPhaseDone
		}
		s, err := b.admin.CreateSecret(ctx, b.org, client.CreateSecretRequest{
			Name: seedName(i),
			Values: map[string]string{
				client.Development: benchValue(), client.Staging: benchValue(), client.Production: benchValue(),
			},
		})
		if err == nil {
			ids[i] = s.ID
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
	setProd := func() map[string]*string { v := benchValue(); return map[string]*string{prod: &v} }
	return []benchPhase{
		{"create", func(ctx context.Context, _ *benchWorker) error {
			_, err := b.admin.CreateSecret(ctx, b.org, client.CreateSecretRequest{
				Name: fmt.Sprintf("BENCH_NEW_%07d", b.created.Add(1)), Values: map[string]string{prod: benchValue()},
			})
			return err
		}, 0},
		{"read one secret", func(ctx context.Context, w *benchWorker) error {
			_, err := b.admin.GetSecret(ctx, b.org, randomID(w))
			return err
		}, 0},
		{"hot update", func(ctx context.Context, _ *benchWorker) error {
			_, err := b.admin.UpdateSecret(ctx, b.org, b.hot, client.UpdateSecretRequest{Values: setProd()})
			return err
		}, 0},
		{"hot update, expected_version", b.checkedUpdate, 0},
		{"grid first page", func(ctx context.Context, _ *benchWorker) error {
			return b.gridPage(ctx, url.Values{"limit": {"100"}})
		}, 0},
		{"grid deep page", func(ctx context.Context, _ *benchWorker) error {
			return b.gridPage(ctx, url.Values{"limit": {"100"}, "cursor": {b.deepCursor}})
		}, 0},
		{"grid q= search", func(ctx context.Context, w *benchWorker) error {
			// A different block of 100 names each time, so no answer is a repeat.
			q := fmt.Sprintf("seed_%05d", w.rng.IntN(max(1, len(b.ids)/100)))
			return b.gridPage(ctx, url.Values{"limit": {"100"}, "q": {q}})
		}, 0},
		{"reveal", func(ctx context.Context, w *benchWorker) error {
			_, err := w.reveal.reveal(ctx, b.base, b.token, b.org, randomID(w), prod)
			return err
		}, 0},
		{"values (service token)", func(ctx context.Context, _ *benchWorker) error {
			_, err := b.service.Values(ctx, b.org, prod)
			return err
		}, 0},
		{"mixed 90/10 read/write", func(ctx context.Context, w *benchWorker) error {
			id := randomID(w)
			if w.rng.IntN(10) == 0 {
				_, err := b.admin.UpdateSecret(ctx, b.org, id, client.UpdateSecretRequest{Values: setProd()})
				return err
			}
			_, err := b.admin.GetSecret(ctx, b.org, id)
			return err
		}, 0},
		{fmt.Sprintf("projection lag, %g updates/s", b.cfg.LagRate), func(ctx context.Context, w *benchWorker) error {
			_, err := b.admin.UpdateSecret(ctx, b.org, randomID(w), client.UpdateSecretRequest{Values: setProd()})
			return err
		}, b.cfg.LagRate},
	}
}

// gridPage reads one grid page and checks it as a load generator does: a 200, a whole
// and well-formed JSON body, and at least one row. It does not decode the rows into
// the client's types: on the benchmark's two cores that cost the bench about as much
// CPU per page as the server spent answering it, and a phase measured the two sharing
// the machine rather than the server. For the same reason a body is checked with
// json.Valid only the first time those exact bytes arrive (by a 64-bit hash): json.Valid
// took ~0.3-0.5 ms per 60 KB page, more than the server's CPU for it, and a phase
// answers the same pages (unchanged secrets) many times. The verdict is json.Valid's
// for every page.
func (b *benchRun) gridPage(ctx context.Context, q url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.baseURL+client.APIPrefix+"/orgs/"+b.org+"/secrets?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("User-Agent", "keyledger-bench")
	resp, err := b.http.Do(req)
	if err != nil {
		return &client.NetworkError{Method: req.Method, URL: req.URL.String(), Err: err}
	}
	defer resp.Body.Close()
	// Read into a reused buffer: a fresh one per page (io.ReadAll's, grown in steps)
	// was most of what the bench allocated in these phases.
	buf, _ := b.pageBufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer b.pageBufs.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return &client.NetworkError{Method: req.Method, URL: req.URL.String(), Err: err}
	}
	body := buf.Bytes()
	if resp.StatusCode != http.StatusOK {
		// Counted by status, as the typed client's errors are.
		return &client.Error{Status: resp.StatusCode}
	}
	if !bytes.HasPrefix(body, []byte(`{"items":[`)) || !bytes.Contains(body, []byte(`"permissions":`)) || !b.wellFormedJSON(body) {
		return errors.New("grid page: not a page of rows")
	}
	return nil
}

// wellFormedJSON is json.Valid(body), remembered for bodies already found valid.
func (b *benchRun) wellFormedJSON(body []byte) bool {
	h := maphash.Bytes(b.pageSeed, body)
	if _, ok := b.wellFormed.Load(h); ok {
		return true
	}
	if !json.Valid(body) {
		return false
	}
	b.wellFormed.Store(h, struct{}{})
	return true
}

// checkedUpdate updates the hot secret with the newest version any client has seen,
// as a careful client does. A 409 is an error of the phase; the client then reads the
// secret again (inside the failed operation) to learn the version it missed.
func (b *benchRun) checkedUpdate(ctx context.Context, _ *benchWorker) error {
	v := int(b.hotVersion.Load())
	s, err := b.admin.UpdateSecret(ctx, b.org, b.hotChecked, client.UpdateSecretRequest{
		Values: map[string]*string{client.Production: new(benchValue())}, ExpectedVersion: &v,
	})
	if err == nil {
		b.noteHotVersion(s.Version)
		return nil
	}
	if client.IsCode(err, client.CodeVersionConflict) {
		if fresh, gerr := b.admin.GetSecret(ctx, b.org, b.hotChecked); gerr == nil {
			b.noteHotVersion(fresh.Version)
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
	return b.drive(ctx, p, clients, func() (time.Time, bool) {
		now := time.Now()
		return now, ctx.Err() == nil && (deadline.IsZero() || now.Before(deadline))
	})
}

// drive runs p's operation on each of clients workers for as long as next says, and
// summarizes the phase. next gives the instant an operation is timed from (now, in a
// closed loop; when it was due, at a fixed rate) and whether one more is to run.
func (b *benchRun) drive(ctx context.Context, p benchPhase, clients int, next func() (time.Time, bool)) benchPhaseResult {
	before, _ := b.srv.stats()
	start := time.Now()
	samples := make([]benchSamples, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			w := &benchWorker{rng: mrand.New(mrand.NewPCG(uint64(i), uint64(start.UnixNano())))}
			defer w.reveal.close()
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
				samples[i].add(time.Since(from), err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, _ := b.srv.stats()
	return summarize(p.name, clients, elapsed, samples, before, after)
}
