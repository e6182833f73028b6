package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/lease"
	"github.com/keyledger/keyledger/projections"
)

// gate blocks callers of wait while closed; it starts open.
type gate struct {
	mu   sync.Mutex
	open chan struct{} // closed while the gate is open
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch := g.open
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) isOpen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		return true
	default:
		return false
	}
}

func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.open)
}

// testLease wraps a real lease so that a test can pause its holder or kill it. While
// paused, renewals never reach NATS yet report success, the worst case for fencing: a
// holder that believes it still holds the lease; tries to acquire it wait. Killed, its
// projector's Release on the way out does nothing, as after kill -9: the entry stays
// until it expires.
type testLease struct {
	*lease.Lease
	paused *gate

	mu     sync.Mutex
	killed bool
}

func newTestLease(tb testing.TB, r *rig, holder string, ttl time.Duration) *testLease {
	tb.Helper()
	l, err := lease.Open(context.Background(), r.env.Store, projections.CheckpointName, holder, ttl)
	if err != nil {
		tb.Fatal(err)
	}
	return &testLease{Lease: l, paused: newGate()}
}

func (l *testLease) TryAcquire(ctx context.Context) (bool, error) {
	if err := l.paused.wait(ctx); err != nil {
		return false, err
	}
	return l.Lease.TryAcquire(ctx)
}

func (l *testLease) Renew(ctx context.Context) error {
	if !l.paused.isOpen() {
		return nil
	}
	return l.Lease.Renew(ctx)
}

func (l *testLease) Release(ctx context.Context) error {
	l.mu.Lock()
	killed := l.killed
	l.mu.Unlock()
	if killed {
		return nil
	}
	return l.Lease.Release(ctx)
}

func (l *testLease) kill() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.killed = true
}

// gatedFollower holds a projector's deliveries while its gate is shut: the projector
// is paused between receiving events and committing them. With durable set, it holds
// Durable (the log's sync of what the projector read) while that gate is shut.
type gatedFollower struct {
	store   *eventstore.Store
	gate    *gate
	durable *gate
	// asked counts the calls of Durable.
	asked atomic.Int64
}

func (f *gatedFollower) Durable(ctx context.Context, seq uint64) error {
	f.asked.Add(1)
	if f.durable != nil {
		if err := f.durable.wait(ctx); err != nil {
			return err
		}
	}
	return f.store.Durable(ctx, seq)
}

func (f *gatedFollower) Follow(ctx context.Context, from uint64, buffer int) (<-chan eventstore.Delivery, error) {
	in, err := f.store.Follow(ctx, from, buffer)
	if err != nil {
		return nil, err
	}
	out := make(chan eventstore.Delivery)
	go func() {
		defer close(out)
		for d := range in {
			if f.gate.wait(ctx) != nil {
				return
			}
			select {
			case out <- d:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// logRecorder keeps every log line (message and attributes) for the test to read.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{added: make(chan struct{}, 1)} }

func (l *logRecorder) logger() *slog.Logger { return slog.New(l) }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
	return nil
}

// matching returns the lines that contain every one of parts.
func (l *logRecorder) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if all(line, parts) {
			out = append(out, line)
		}
	}
	return out
}

func all(line string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(line, p) {
			return false
		}
	}
	return true
}

// waitFor waits until a line contains every one of parts, and returns it.
func (l *logRecorder) waitFor(tb testing.TB, limit time.Duration, parts ...string) string {
	tb.Helper()
	deadline := time.After(limit)
	for {
		if m := l.matching(parts...); len(m) > 0 {
			return m[0]
		}
		select {
		case <-l.added:
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			tb.Fatalf("no log line with %q within %s; lines:\n%s", parts, limit, strings.Join(l.lines, "\n"))
		}
	}
}

// replica opens its own read-model connection, as another process would, so that
// its projector's progress reaches the rig's waits only through Postgres.
func (r *rig) replica(tb testing.TB) *projections.ReadModels {
	tb.Helper()
	db, err := projections.Open(context.Background(), r.url, r.env.Store.Keyring(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	return db
}

func (r *rig) checkpoint(tb testing.TB) uint64 {
	tb.Helper()
	cp, err := r.db.Progress.Checkpoint(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

// assertAppliedOnceInOrder checks the read models against the log: the audit trail's
// hash chain verifies (an event applied twice or out of order breaks it), its entries
// are distinct and ordered, and every secret named is in the grid once.
func assertAppliedOnceInOrder(tb testing.TB, r *rig, secrets ...string) {
	tb.Helper()
	ctx := context.Background()
	v, err := r.db.Audit.VerifyAudit(ctx, r.orgID, r.env.Store)
	if err != nil {
		tb.Fatal(err)
	}
	if !v.OK {
		tb.Fatalf("audit trail does not verify: %+v", v)
	}
	entries, _, err := r.db.Audit.ListAudit(ctx, r.orgID, projections.AuditFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	var seqs []uint64
	for _, e := range entries {
		seqs = append(seqs, e.Seq)
	}
	sorted := slices.Clone(seqs)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(seqs) {
		tb.Fatalf("audit entries repeat a sequence: %v", seqs)
	}
	rows, _, err := r.db.Secrets.ListSecrets(ctx, r.orgID, projections.SecretFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, row := range rows {
		names = append(names, row.Name)
	}
	slices.Sort(names)
	want := slices.Clone(secrets)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		tb.Fatalf("grid has %v, want %v", names, want)
	}
}

// A projector paused past its lease (a GC pause, a stopped VM) while a newer holder
// took over must not commit when it resumes: the checkpoint's fence, the newer
// holder's lease revision, refuses its batch, and it goes back to standing by.
func TestPausedOldHolderCannotCommit(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	const ttl, renew, poll = time.Second, 250 * time.Millisecond, 100 * time.Millisecond
	values := map[domain.Environment]string{domain.Production: "x"}

	aLease := newTestLease(t, r, "replica-a", ttl)
	aEvents := &gatedFollower{store: r.env.Store, gate: newGate()}
	aLog := newLogRecorder()
	r.startProjectorWith(t, projections.NewProjector(r.replica(t), aEvents, aLog.logger()).WithLease(aLease, renew, poll))
	first := r.create(t, "FIRST", values)
	r.wait(t, first.Seq)
	aRev := aLease.Status().Revision

	// A stops in its tracks, unaware: its renewals are lost, and the events it
	// receives wait before its next batch.
	aLease.paused.shut()
	aEvents.gate.shut()
	second := r.create(t, "SECOND", values)

	bLease := newTestLease(t, r, "replica-b", ttl)
	stopB := r.startProjectorWith(t, projections.NewProjector(r.replica(t), r.env.Store, nil).WithLease(bLease, renew, poll))
	r.wait(t, second.Seq) // B took over once A's entry expired
	bRev := bLease.Status().Revision
	if bRev <= aRev {
		t.Fatalf("B's lease revision %d is not above A's %d", bRev, aRev)
	}
	// B dies without releasing: nobody projects the third event until A is back.
	bLease.kill()
	stopB()
	third := r.create(t, "THIRD", values)

	// A resumes with SECOND and THIRD in hand and its old lease revision; its lease
	// calls stay paused, so whatever it does next is that old tenure's.
	aEvents.gate.release()
	line := aLog.waitFor(t, 10*time.Second, "fenced off", "claimed by lease revision ")
	t.Logf("A on resuming: %s", line)
	// The fence is B's revision at its last commit; B may have renewed once more
	// before it died, so it lies between A's and B's last.
	var fence uint64
	if m := regexp.MustCompile(`claimed by lease revision (\d+),`).FindStringSubmatch(line); m != nil {
		fence, _ = strconv.ParseUint(m[1], 10, 64)
	}
	if fence <= aRev || fence > bRev {
		t.Fatalf("A was fenced off by revision %d, want one of B's (%d, %d]", fence, aRev, bRev)
	}
	if cp := r.checkpoint(t); cp != second.Seq {
		t.Fatalf("checkpoint %d after A's refused batch, want %d (B's last): A committed with a lost lease", cp, second.Seq)
	}

	// Back to normal: A takes the lease anew, at a revision above B's, and projects.
	aLease.paused.release()
	r.wait(t, third.Seq)
	if rev := aLease.Status().Revision; rev <= bRev {
		t.Fatalf("A's new lease revision %d is not above B's %d", rev, bRev)
	}
	assertAppliedOnceInOrder(t, r, "FIRST", "SECOND", "THIRD")
}

// After kill -9 of the holder (it stops renewing and never releases) a standby
// projects within 3 s, with the lease timing cmd/keyledger uses. The standby says
// once that it stands by, and whose lease it waits for.
func TestStandbyProjectsWithinThreeSecondsOfAKill(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	// serve's figures (cmd/keyledger/serve.go), which this test holds to the contract.
	const ttl, renew, poll = 2 * time.Second, 500 * time.Millisecond, 250 * time.Millisecond
	values := map[domain.Environment]string{domain.Production: "x"}

	aLease := newTestLease(t, r, "replica-a", ttl)
	aLog := newLogRecorder()
	stopA := r.startProjectorWith(t, projections.NewProjector(r.replica(t), r.env.Store, aLog.logger()).WithLease(aLease, renew, poll))
	before := r.create(t, "BEFORE", values)
	r.wait(t, before.Seq)
	aLog.waitFor(t, time.Second, "projector lease acquired", "holder=replica-a")

	bLease := newTestLease(t, r, "replica-b", ttl)
	bLog := newLogRecorder()
	r.startProjectorWith(t, projections.NewProjector(r.replica(t), r.env.Store, bLog.logger()).WithLease(bLease, renew, poll))
	bLog.waitFor(t, 5*time.Second, "standing by", "holder=replica-a")
	time.Sleep(3 * poll) // more polls, to show the standby says it once

	aLease.kill()
	stopA()
	killed := time.Now()
	after := r.create(t, "AFTER", values)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.db.Progress.WaitFor(ctx, after.Seq); err != nil {
		t.Fatalf("standby never projected: %v", err)
	}
	took := time.Since(killed)
	t.Logf("failover after the holder's kill: %s (lease TTL %s, renewal every %s, standby poll every %s)", took, ttl, renew, poll)
	if took > 3*time.Second {
		t.Fatalf("standby projected %s after the holder's kill, want within 3s", took)
	}
	if n := len(bLog.matching("standing by")); n != 1 {
		t.Fatalf("standby logged standing by %d times, want once:\n%s", n, strings.Join(bLog.matching("standing by"), "\n"))
	}
	bLog.waitFor(t, time.Second, "projector lease acquired", "holder=replica-b")
	assertAppliedOnceInOrder(t, r, "BEFORE", "AFTER")
}

// A projector without a lease (a rebuild's, a test's) is fenced off read models that
// a leased projector has claimed: Run returns ErrFenced instead of retrying forever.
func TestUnleasedProjectorIsFencedOffClaimedReadModels(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	lease := newTestLease(t, r, "replica-a", time.Second)
	stop := r.startProjectorWith(t, projections.NewProjector(r.replica(t), r.env.Store, nil).WithLease(lease, 250*time.Millisecond, 100*time.Millisecond))
	first := r.create(t, "FIRST", map[domain.Environment]string{domain.Production: "x"})
	r.wait(t, first.Seq)
	stop()
	r.create(t, "SECOND", map[domain.Environment]string{domain.Production: "y"})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := projections.NewProjector(r.db, r.env.Store, nil).Run(ctx)
	if !errors.Is(err, projections.ErrFenced) {
		t.Fatalf("unleased projector on claimed read models: %v, want ErrFenced", err)
	}
	if cp := r.checkpoint(t); cp != first.Seq {
		t.Fatalf("checkpoint %d, want %d: the fenced projector committed", cp, first.Seq)
	}
}

// A rebuild moves the fence with the read models: the leased projector keeps
// projecting into the rebuilt schema, and a projector below the fence stays fenced
// off there too.
func TestRebuildKeepsTheFence(t *testing.T) {
	t.Parallel()
	r := newRig(t, false)
	values := map[domain.Environment]string{domain.Production: "x"}
	lease := newTestLease(t, r, "replica-a", time.Second)
	stop := r.startProjectorWith(t, projections.NewProjector(r.replica(t), r.env.Store, nil).WithLease(lease, 250*time.Millisecond, 100*time.Millisecond))
	before := r.create(t, "BEFORE", values)
	r.wait(t, before.Seq)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := r.db.Rebuild(ctx, r.env.Store, r.env.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	after := r.create(t, "AFTER", values)
	r.wait(t, after.Seq)
	assertAppliedOnceInOrder(t, r, "BEFORE", "AFTER")

	stop()
	r.create(t, "LAST", values)
	err = projections.NewProjector(r.db, r.env.Store, nil).Run(ctx)
	if !errors.Is(err, projections.ErrFenced) {
		t.Fatalf("unleased projector on the rebuilt schema %s: %v, want ErrFenced", rep.Schema, err)
	}
}
