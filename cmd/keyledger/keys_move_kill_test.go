package main

import (
	"bytes"
	"context"
	"errors"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/nats-io/nats.go/jetstream"
)

// The move of the data keys from the old keys bucket to the keysets stream survives
// kill -9 at any point. Each trial takes a copy of one seeded data dir and kills the
// binary twice while it moves the keys, at a point that differs from trial to trial
// (spread over how long an uninterrupted move takes) and at a random one; after each
// kill every data key is still in the bucket or in the stream, and the run that is not
// killed finishes the move: every value sealed before opens, the erased organization
// stays erased, and the files hold none of the keysets the bucket had replaced or
// purged.
func TestKeysMoveSurvivesKillNine(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	seedDir := filepath.Join(t.TempDir(), "data")
	const scopes = 300
	var seed eventstoretest.OldKeysBucket
	eventstoretest.WithEmbedded(t, filepath.Join(seedDir, "nats"), func(js jetstream.JetStream) {
		seed = eventstoretest.SeedOldKeysBucket(t, js, eventstoretest.TestMasterKey, scopes)
	})
	// The kill points are spread over how long an uninterrupted move takes: the fastest
	// of three, since the first run of a freshly built binary on a busy machine can take
	// several times as long as the rest (800 ms once, where the trials' runs ended
	// before most of the points, and too few were killed to prove anything).
	var full time.Duration
	for i := range 3 {
		began := time.Now()
		runKeysOpen(t, bin, copyDataDir(t, seedDir), 0)
		if took := time.Since(began); i == 0 || took < full {
			full = took
		}
	}
	t.Logf("an uninterrupted run that moves %d scopes takes %s (the fastest of 3)", scopes+3, full.Round(time.Millisecond))

	const trials = 6
	killed, runs, states := 0, 0, map[string]int{}
	for i := range trials {
		// The trial's first kill point. A run that ends before it has finished the move
		// and leaves nothing to kill in this copy: the trial then starts again from a
		// fresh copy with the point halved (at most twice), since on a machine whose
		// load changes a run can take half as long as the measured one (CI once killed
		// only 5 of 12 runs when the points were not moved).
		var dataDir string
		first := full * time.Duration(2*i+1) / (2 * trials)
		for attempt := 0; ; attempt++ {
			dataDir = copyDataDir(t, seedDir)
			wasKilled := runKeysOpen(t, bin, dataDir, first)
			runs++
			if wasKilled {
				killed++
			}
			if wasKilled || attempt == 2 {
				break
			}
			first /= 2
		}
		natsDir := filepath.Join(dataDir, "nats")
		eventstoretest.WithEmbedded(t, natsDir, func(js jetstream.JetStream) { states[expectKeysSomewhere(t, js, natsDir, seed)]++ })
		// Then once more at a random point, on what the first kill left.
		runs++
		if runKeysOpen(t, bin, dataDir, time.Duration(mrand.Int64N(int64(full)))) {
			killed++
		}
		eventstoretest.WithEmbedded(t, natsDir, func(js jetstream.JetStream) { states[expectKeysSomewhere(t, js, natsDir, seed)]++ })
		runKeysOpen(t, bin, dataDir, 0)
		eventstoretest.WithEmbedded(t, natsDir, func(js jetstream.JetStream) {
			fence, err := js.Stream(context.Background(), "KV_"+eventstore.KeysBucket)
			if err != nil || !fence.CachedInfo().Config.Sealed {
				t.Fatalf("trial %d: the run that was not killed did not finish the move: %v", i, err)
			}
			seed.Verify(t, js, eventstoretest.TestMasterKey)
		})
		if found := eventstoretest.FindInDir(t, natsDir, seed.Superseded); len(found) != 0 {
			t.Fatalf("trial %d: after the move %d superseded or purged keysets are still in the files", i, len(found))
		}
	}
	if killed < trials {
		t.Fatalf("only %d of %d runs were killed before they ended: the test proved too little", killed, runs)
	}
	t.Logf("%d of %d runs killed; states found after them: %v", killed, runs, states)
}

// copyDataDir copies a data dir whose server is stopped, and returns the copy.
func copyDataDir(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "data")
	if out, err := exec.Command("cp", "-a", dir, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy the data dir: %v %s", err, out)
	}
	return dst
}

// runKeysOpen runs an offline command that opens the log (and so the keyring) on
// dataDir; with killAfter > 0 it is killed with SIGKILL then, and reports whether it
// was still running. Without, it must end without a start-up error.
func runKeysOpen(t *testing.T, bin, dataDir string, killAfter time.Duration) bool {
	t.Helper()
	cmd := exec.Command(bin, "replay", "--org", uuid.NewString(), "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "KEYLEDGER_MASTER_KEY="+eventstoretest.TestMasterKey, "KEYLEDGER_NATS_URL=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if killAfter == 0 {
		err := cmd.Wait()
		if strings.Contains(stderr.String(), "open the event log") {
			t.Fatalf("the run that was not killed failed to open the log: %v\n%s", err, stderr.String())
		}
		return false
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return false
	case <-time.After(killAfter):
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	err := <-done
	var exit *exec.ExitError
	return errors.As(err, &exit) && !exit.Exited()
}

// expectKeysSomewhere checks, without moving anything, that every seeded scope's data
// key is in the old bucket or in the keysets stream, and names the state of the move
// it found.
func expectKeysSomewhere(t *testing.T, js jetstream.JetStream, natsDir string, seed eventstoretest.OldKeysBucket) string {
	t.Helper()
	ctx := context.Background()
	var bucket jetstream.KeyValue
	state := "bucket deleted"
	st, err := js.Stream(ctx, "KV_"+eventstore.KeysBucket)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("after a kill: the keys bucket's stream: %v", err)
	}
	if err == nil {
		switch {
		case !strings.Contains(st.CachedInfo().Config.Description, eventstore.KeysetsStream):
			if bucket, err = js.KeyValue(ctx, eventstore.KeysBucket); err != nil {
				t.Fatal(err)
			}
			state = "bucket kept"
		case st.CachedInfo().Config.Sealed:
			state = "fenced"
		default:
			state = "fence not sealed"
		}
	}
	keysets, err := js.Stream(ctx, eventstore.KeysetsStream)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatal(err)
	}
	if bucket != nil {
		moved := uint64(0)
		if keysets != nil {
			moved = keysets.CachedInfo().State.Msgs
		}
		all := map[string]bool{seed.Erased: true}
		for _, v := range seed.Values {
			all[v.Scope] = true
		}
		switch {
		case moved == 0:
			state = "bucket kept, none moved"
		case int(moved) >= len(all):
			state = "bucket kept, all moved"
		default:
			state = "bucket kept, some moved"
		}
	}
	for _, v := range append(seed.Values, eventstoretest.SealedValue{Scope: seed.Erased}) {
		if keysets != nil {
			if _, err := keysets.GetLastMsgForSubject(ctx, "kl.keysets."+v.Scope); err == nil {
				continue
			}
		}
		if bucket != nil {
			found := false
			for _, name := range []string{v.Scope + ".keyset", v.Scope + ".v1", v.Scope + ".destroyed"} {
				if _, err := bucket.Get(ctx, name); err == nil {
					found = true
				}
			}
			if found {
				continue
			}
		}
		var names []string
		for n := range js.StreamNames(ctx).Name() {
			names = append(names, n)
		}
		var ks any
		if keysets != nil {
			ks = keysets.CachedInfo().State
		}
		t.Fatalf("after a kill (state %s, streams %v, keysets %+v, files %v) the data key of %s is neither in the keys bucket nor in the keysets stream",
			state, names, ks, streamDirs(natsDir), v.Scope)
	}
	return state
}

// streamDirs lists the files of every stream directory under natsDir, for the report
// of a failure.
func streamDirs(natsDir string) []string {
	var out []string
	_ = filepath.WalkDir(natsDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(path, "streams") && (!d.IsDir() || strings.HasPrefix(d.Name(), ".")) {
			rel, _ := filepath.Rel(natsDir, path)
			out = append(out, rel)
		}
		return nil
	})
	return out
}
