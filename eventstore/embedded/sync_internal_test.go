package embedded

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// syncRecorder stands in for (*os.File).Sync: it syncs, and records how large each
// file was when its sync began, the size the sync vouches for.
type syncRecorder struct {
	mu     sync.Mutex
	synced map[string]int64
	// hold, when set, is called before each sync (a test holds a run there).
	hold func()
}

func (r *syncRecorder) fsync(f *os.File) error {
	if r.hold != nil {
		r.hold()
	}
	info, err := f.Stat()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.synced[f.Name()] = max(r.synced[f.Name()], info.Size())
	r.mu.Unlock()
	return f.Sync()
}

func startGroupSynced(t *testing.T) (*Embedded, jetstream.JetStream, *syncRecorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := StartEmbedded(ctx, EmbeddedOptions{Dir: t.TempDir(), GroupSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := &syncRecorder{synced: map[string]int64{}}
	e.sync.fsync = rec.fsync
	nc, err := e.Connect("t")
	if err != nil {
		e.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nc.Close()
		e.Shutdown()
	})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return e, js, rec
}

// unsynced lists the message blocks whose bytes on disk are not all vouched for by a
// sync that began after they were written.
func unsynced(t *testing.T, root string, rec *syncRecorder) []string {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".blk") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if rec.synced[path] < info.Size() {
			out = append(out, path+" ("+strconv.FormatInt(rec.synced[path], 10)+" of "+strconv.FormatInt(info.Size(), 10)+" bytes synced)")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// blockBytes is the size of every message block under root.
func blockBytes(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".blk") {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Every byte a stream holds when Sync is called is on disk when it returns: in every
// stream, in a stream made after the first sync, and in the blocks a stream fills and
// leaves behind (a block of the server's smallest size holds a few messages).
func TestSyncCoversEveryStreamAndBlock(t *testing.T) {
	e, js, rec := startGroupSynced(t)
	ctx := context.Background()
	root := e.sync.root
	mk := func(name string, maxBytes int64) {
		t.Helper()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{strings.ToLower(name) + ".>"}, Storage: jetstream.FileStorage, MaxBytes: maxBytes}); err != nil {
			t.Fatal(err)
		}
	}
	publish := func(subject string, n, size int) {
		t.Helper()
		for i := range n {
			if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject + "." + strconv.Itoa(i), Data: make([]byte, size)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("ONE", -1)
	mk("TWO", -1)
	publish("one", 5, 100)
	publish("two", 3, 100)
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if bad := unsynced(t, root, rec); len(bad) > 0 {
		t.Fatalf("after the first sync: %v", bad)
	}
	for round := range 5 {
		// The server writes a message to its block file before it acknowledges it,
		// which group sync stands on: a Sync after the acknowledgement finds it there.
		before := blockBytes(t, root)
		publish("one", 3, 200)
		if grew := blockBytes(t, root) - before; grew < 3*200 {
			t.Fatalf("three acknowledged 200-byte messages added %d bytes to the block files", grew)
		}
		if round == 2 {
			mk("THREE", -1)
			publish("three", 2, 100)
		}
		if err := e.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if bad := unsynced(t, root, rec); len(bad) > 0 {
			t.Fatalf("after sync %d: %v", round+2, bad)
		}
	}
	// Small blocks: a stream limited to 120 KB gets blocks of the server's smallest size
	// (32 KB, auto-tuned from MaxBytes), and 10 KB messages fill one every three; the
	// oldest blocks go as the limit discards their messages.
	mk("SMALL", 120_000)
	for round := range 8 {
		publish("small", 4, 10_000)
		if err := e.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if bad := unsynced(t, root, rec); len(bad) > 0 {
			t.Fatalf("small blocks, after sync %d: %v", round+1, bad)
		}
	}
	blocks, _ := filepath.Glob(filepath.Join(root, "*", "streams", "SMALL", "msgs", "*.blk"))
	var numbers []string
	for _, b := range blocks {
		numbers = append(numbers, filepath.Base(b))
	}
	if st := e.sync.streams[filepath.Join(root, "$G", "streams", "SMALL")]; st == nil || st.index < 3 {
		t.Fatalf("the small stream went through too few blocks to test their turnover (now %v)", numbers)
	}
	// A purge removes the stream's blocks; its next writes go to a newer one.
	small, err := js.Stream(ctx, "SMALL")
	if err != nil {
		t.Fatal(err)
	}
	if err := small.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	publish("small", 1, 100)
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// A stream deleted and made again numbers its blocks from 1 again.
	if err := js.DeleteStream(ctx, "TWO"); err != nil {
		t.Fatal(err)
	}
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	mk("TWO", -1)
	publish("two", 2, 100)
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if bad := unsynced(t, root, rec); len(bad) > 0 {
		t.Fatalf("after a purge and a stream made again: %v", bad)
	}
	// The same once the directories' times have settled, when the syncer looks at an
	// unchanged directory through its open handle only: a new block, and a stream
	// deleted and made again, still change what it looks at.
	time.Sleep(2 * settleTime)
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * settleTime)
	publish("small", 8, 10_000)
	if err := js.DeleteStream(ctx, "ONE"); err != nil {
		t.Fatal(err)
	}
	mk("ONE", -1)
	publish("one", 2, 100)
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if bad := unsynced(t, root, rec); len(bad) > 0 {
		t.Fatalf("settled directories, after new blocks and a stream made again: %v", bad)
	}
}

// startHeld starts a group-synced server with one stream "S", synced once, whose next
// run will be held in its first fsync: entered closes when it is, and the run goes on
// once release is closed.
func startHeld(t *testing.T) (e *Embedded, js jetstream.JetStream, rec *syncRecorder, entered, release chan struct{}) {
	t.Helper()
	e, js, rec = startGroupSynced(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	rec.hold = func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	return e, js, rec, entered, release
}

// A caller's sync is one that began after it asked: one that was under way already
// may have begun before its write, so the caller waits for the next.
func TestSyncWaitsForARunThatBeganAfterIt(t *testing.T) {
	e, js, rec, entered, release := startHeld(t)
	ctx := context.Background()
	if _, err := js.Publish(ctx, "s.1", []byte("first")); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- e.Sync(ctx) }()
	<-entered // the first run is under way, held in its fsync
	if _, err := js.Publish(ctx, "s.2", []byte("second, written after the run began")); err != nil {
		t.Fatal(err)
	}
	second := make(chan uint64, 1)
	go func() {
		if err := e.Sync(ctx); err != nil {
			t.Error(err)
		}
		second <- e.sync.rounds.Load()
	}()
	for e.sync.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	before := e.sync.rounds.Load()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := <-second; got <= before {
		t.Fatalf("the second caller returned after run %d, the one under way when it asked", got)
	}
	if bad := unsynced(t, e.sync.root, rec); len(bad) > 0 {
		t.Fatalf("the second write is not on disk: %v", bad)
	}
}

// Callers who ask while a run is under way share the next one.
func TestConcurrentSyncsShareARun(t *testing.T) {
	e, js, _, entered, release := startHeld(t)
	ctx := context.Background()
	if _, err := js.Publish(ctx, "s.1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.Sync(ctx) }()
	<-entered
	start := e.sync.rounds.Load()
	const callers = 50
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if err := e.Sync(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	for e.sync.waiting() < callers {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if runs := e.sync.rounds.Load() - start; runs != 1 {
		t.Fatalf("%d callers who asked during one run took %d runs, want 1", callers, runs)
	}
}

// After Shutdown the server acknowledges nothing more: it synced what it had, and a
// Sync has nothing left to wait for.
func TestSyncAfterShutdown(t *testing.T) {
	ctx := context.Background()
	e, err := StartEmbedded(ctx, EmbeddedOptions{Dir: t.TempDir(), GroupSync: true})
	if err != nil {
		t.Fatal(err)
	}
	e.Shutdown()
	if err := e.Sync(ctx); err != nil {
		t.Fatalf("sync after shutdown: %v", err)
	}
}
