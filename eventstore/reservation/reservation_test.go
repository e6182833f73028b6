package reservation_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/eventstore/reservation"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Of twenty holders reserving one value at once exactly one gets it; the others are
// told who holds it. A stale reservation is taken over only at the revision it was
// seen at, and only its holder releases it.
func TestReservationHasOneHolder(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	r, err := reservation.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	key, err := r.Key(ctx, "org-1", "DATABASE_URL")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(key, "DATABASE_URL") {
		t.Fatalf("the key %q holds the value in clear", key)
	}
	var (
		mu      sync.Mutex
		winners []string
		wg      sync.WaitGroup
	)
	for i := range 20 {
		holder := "h" + string(rune('a'+i))
		wg.Go(func() {
			got, err := r.Reserve(ctx, key, holder)
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			case errors.Is(err, reservation.ErrReserved):
				if got.Holder == "" || got.Holder == holder {
					t.Errorf("refused %s names holder %q", holder, got.Holder)
				}
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("winners %v, want exactly one", winners)
	}
	winner := winners[0]

	cur, err := r.Reserve(ctx, key, "late")
	if !errors.Is(err, reservation.ErrReserved) || cur.Holder != winner {
		t.Fatalf("late reserve: %+v %v", cur, err)
	}
	if err := r.Release(ctx, key, "late"); err != nil {
		t.Fatal(err)
	}
	if again, err := r.Reserve(ctx, key, "late"); !errors.Is(err, reservation.ErrReserved) || again.Holder != winner {
		t.Fatalf("a non-holder's release freed the reservation: %+v %v", again, err)
	}
	taken, err := r.TakeOver(ctx, cur, "successor")
	if err != nil || taken.Holder != "successor" {
		t.Fatalf("take over: %+v %v", taken, err)
	}
	if _, err := r.TakeOver(ctx, cur, "third"); !errors.Is(err, reservation.ErrReserved) {
		t.Fatalf("take over at a stale revision: %v, want ErrReserved", err)
	}
	if err := r.Release(ctx, key, "successor"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reserve(ctx, key, "fresh"); err != nil {
		t.Fatalf("reserve after release: %v", err)
	}
}

// A bucket that holds nothing is quiet, so that creates need not ask it for their
// names' reservations (earlier versions wrote them; this one writes none). A
// reservation written over another connection (an earlier version on another replica)
// ends that once NATS delivers it; a reservation this process makes ends it at once;
// so does a reconnection, since writes may have been missed meanwhile. A bucket that
// holds something when it is opened is not quiet.
func TestQuietLastsUntilTheBucketIsWritten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	open := func(env *eventstoretest.Env) *reservation.Reservations {
		t.Helper()
		r, err := reservation.Open(ctx, env.Store)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Quiet() {
			t.Fatal("a new, empty bucket is not quiet")
		}
		return r
	}
	waitLoud := func(what string, r *reservation.Reservations) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); r.Quiet(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("still quiet 5 s after %s", what)
			}
		}
	}

	env := eventstoretest.New(t)
	r := open(env)
	other, err := nats.Connect("", nats.InProcessServer(env.Server))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ojs, err := jetstream.New(other)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := ojs.KeyValue(ctx, reservation.ReservationsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Quiet() {
		t.Fatal("quiet ended with no write")
	}
	if _, err := kv.Create(ctx, "org-1.abc", []byte("holder")); err != nil {
		t.Fatal(err)
	}
	waitLoud("another connection's reservation", r)
	if r2, err := reservation.Open(ctx, env.Store); err != nil {
		t.Fatal(err)
	} else if r2.Quiet() {
		t.Fatal("a bucket that holds a reservation is quiet")
	}

	own := open(eventstoretest.New(t))
	if _, err := own.Reserve(ctx, "org-1.abc", "holder"); err != nil {
		t.Fatal(err)
	}
	if own.Quiet() {
		t.Fatal("quiet after its own reservation")
	}

	renv := eventstoretest.New(t)
	reconnected := open(renv)
	renv.StopNATS(t)
	renv.StartNATS(t)
	for deadline := time.Now().Add(10 * time.Second); !renv.Conn.IsConnected() || renv.Conn.Stats().Reconnects == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no reconnection within 10 s")
		}
	}
	if reconnected.Quiet() {
		t.Fatal("quiet after a reconnection, which may have missed writes")
	}
}

// A server whose NATS user may not subscribe to the bucket's subjects would never hear
// of a write there: its bucket is never quiet, and creates ask it as before.
func TestQuietNeedsToHearTheBucketsWrites(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Users: []*server.User{{Username: "keyledger", Password: "pw", Permissions: &server.Permissions{
			Subscribe: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$KV." + reservation.ReservationsBucket + ".>"}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo("keyledger", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r, err := reservation.Open(ctx, eventstoretest.OpenStore(ctx, t, nc))
	if err != nil {
		t.Fatal(err)
	}
	if r.Quiet() {
		t.Fatal("quiet on a bucket whose writes this user may not hear")
	}
}

// A reservation key is a keyed hash: not the bare hash a dictionary confirms, not the
// same in two organizations, the same after the organization's data key rotates (or
// two creators would reserve one name under two keys), and not computable at all once
// the organization is erased.
func TestReservationKeysAreKeyedPerOrganization(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	r, err := reservation.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	key := func(scope, value string) string {
		t.Helper()
		k, err := r.Key(ctx, scope, value)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	hash := func(k string) string { return k[strings.LastIndexByte(k, '.')+1:] }

	a := key("org-a", "DATABASE_URL")
	if !strings.HasPrefix(a, "org-a.") {
		t.Fatalf("key %q is not in its organization's scope", a)
	}
	if bare := reservation.LegacyKey("org-a", "DATABASE_URL"); hash(a) == hash(bare) {
		t.Fatalf("key %q is the bare SHA-256 %q", a, bare)
	}
	if b := key("org-b", "DATABASE_URL"); hash(a) == hash(b) {
		t.Fatalf("one name hashes alike in two organizations: %q, %q", a, b)
	}
	if other := key("org-a", "DATABASE_URL2"); hash(a) == hash(other) {
		t.Fatalf("two names share key %q", a)
	}
	if _, err := env.Store.Keyring().Rotate(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	if again := key("org-a", "DATABASE_URL"); again != a {
		t.Fatalf("the key moved with a data key rotation: %q, then %q", a, again)
	}
	// Another process (its own keyring, reading the stored keyset) agrees.
	master, err := eventstore.ParseMasterKey(eventstoretest.TestMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := eventstore.Open(ctx, env.Conn, master, eventstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := reservation.Open(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if k2, err := r2.Key(ctx, "org-a", "DATABASE_URL"); err != nil || k2 != a {
		t.Fatalf("another process's key %q (%v), want %q", k2, err, a)
	}
	if err := env.Store.Keyring().Shred(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	if k, err := r.Key(ctx, "org-a", "DATABASE_URL"); err == nil {
		t.Fatalf("an erased organization's name still has key %q", k)
	}
}

// The reservations of earlier versions (bare hashes, in the legacy bucket) are listed
// while the bucket is there, held ones only, and one looks up by scope and value;
// dropping the bucket deletes its files: no byte of a bare hash stays on disk, which a
// purge would not promise (it leaves the bytes in the block file until a compaction).
func TestLegacyReservationsAreReadUntilTheirBucketIsDropped(t *testing.T) {
	t.Parallel()
	env := eventstoretest.New(t)
	ctx := context.Background()
	old, err := eventstore.CreateBucket(ctx, env.Store.JetStream(), jetstream.KeyValueConfig{
		Bucket: reservation.LegacyBucket, History: 1, Storage: jetstream.FileStorage,
	})
	if err != nil {
		t.Fatal(err)
	}
	held, released := reservation.LegacyKey("org-1", "API_KEY"), reservation.LegacyKey("org-1", "OLD_KEY")
	for _, k := range []string{held, released} {
		if _, err := old.Create(ctx, k, []byte("holder-of-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Delete(ctx, released); err != nil {
		t.Fatal(err)
	}
	r, err := reservation.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	if !r.LegacyLeft() {
		t.Fatal("the legacy bucket was not found")
	}
	got, err := r.Legacy(ctx)
	if err != nil || len(got) != 1 || got[0].Key != held || got[0].Holder != "holder-of-"+held {
		t.Fatalf("legacy reservations %+v (%v), want only %s", got, err, held)
	}
	if h, ok, err := r.LegacyHolder(ctx, "org-1", "API_KEY"); err != nil || !ok || h.Holder != "holder-of-"+held {
		t.Fatalf("legacy holder of API_KEY: %+v %v %v", h, ok, err)
	}
	if _, ok, err := r.LegacyHolder(ctx, "org-1", "OLD_KEY"); err != nil || ok {
		t.Fatalf("a released legacy reservation is held (%v)", err)
	}
	_, bare, _ := strings.Cut(held, ".")
	if !dirHolds(t, env.Dir, bare) {
		t.Fatalf("the legacy bucket's files do not hold %s: the check below would prove nothing", bare)
	}
	// Another process (its own handle on the bucket) drops it; this one notices.
	other, err := reservation.Open(ctx, env.Store)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.DropLegacy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := other.DropLegacy(ctx); err != nil {
		t.Fatalf("dropping it twice: %v", err)
	}
	if _, ok, err := r.LegacyHolder(ctx, "org-1", "API_KEY"); err != nil || ok {
		t.Fatalf("a dropped legacy bucket still answers: %v %v", ok, err)
	}
	if left, err := r.Legacy(ctx); err != nil || len(left) != 0 || r.LegacyLeft() {
		t.Fatalf("legacy reservations after the drop: %+v (%v)", left, err)
	}
	// The server answers the delete once the bucket's directory is renamed aside (a
	// dot-prefixed name, which it removes at its next start if it stops first) and
	// removes the files right after, on a goroutine of its own: give it that moment.
	for _, k := range []string{held, released} {
		_, bare, _ := strings.Cut(k, ".")
		for deadline := time.Now().Add(10 * time.Second); dirHolds(t, env.Dir, bare); {
			if time.Now().After(deadline) {
				t.Fatalf("a file of the NATS data dir still holds %s", bare)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if again, err := reservation.Open(ctx, env.Store); err != nil || again.LegacyLeft() {
		t.Fatalf("a new process finds a legacy bucket (%v)", err)
	}
}

// dirHolds says whether any file under dir contains needle.
func dirHolds(t *testing.T, dir, needle string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			// The server removes a deleted stream's renamed directory on a goroutine of
			// its own, so a directory may go while it is read: what went holds nothing.
			return nil
		}
		if err != nil || d.IsDir() || found {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		found = bytes.Contains(b, []byte(needle))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
