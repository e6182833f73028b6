package eventstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/nats-io/nats.go/jetstream"
)

// A kill during the deletion of the keys bucket, after the server removed the
// stream's metadata but before it removed its files, leaves those files behind with
// no stream the server loads (nats-server skips a directory without metadata). The
// fence is created in that directory: the server recovers the old messages into it,
// and the keyring moves what they hold (a key it had moved already stays as it is; one
// it had not, say because the bucket was not visible a moment ago, is moved now) and
// purges them before it seals the fence, so that no superseded wrapped key stays
// behind in a file nobody looks at and no key is lost.
func TestKeysBucketDeletedHalfWayLeavesNoFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	const needle = "superseded-wrapped-key-of-a-bucket-deleted-half-way"
	withEmbedded(t, dir, func(js jetstream.JetStream) {
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: KeysBucket, History: 1, Storage: jetstream.FileStorage})
		if err != nil {
			t.Fatal(err)
		}
		for name, value := range map[string][]string{"org-x.keyset": {needle, "current-x"}, "org-y.keyset": {"current-y"}} {
			for _, v := range value {
				if _, err := kv.Put(ctx, name, []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
		}
		// org-x was moved before the bucket's deletion began; org-y was not.
		store, err := openKeysetStore(ctx, js, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.put(ctx, "org-x", kindKeyset, []byte("current-x"), 0, time.Time{}); err != nil {
			t.Fatal(err)
		}
	})
	// What nats-server does first when it deletes a stream (fileStore.Delete).
	var metas []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "meta.inf" && filepath.Base(filepath.Dir(path)) == keysBucketStream {
			metas = append(metas, path)
		}
		return err
	})
	if err != nil || len(metas) != 1 {
		t.Fatalf("the bucket's metadata: %v %v", metas, err)
	}
	if err := os.Remove(metas[0]); err != nil {
		t.Fatal(err)
	}
	if !dirHolds(t, dir, needle) {
		t.Fatal("the files do not hold the key before the restart: the check after it would prove nothing")
	}
	withEmbedded(t, dir, func(js jetstream.JetStream) {
		key, _ := ParseMasterKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
		k, err := NewKeyring(ctx, js, key, 1)
		if err != nil {
			t.Fatal(err)
		}
		for scope, want := range map[string]string{"org-x": "current-x", "org-y": "current-y"} {
			if e, ok, err := k.store.last(ctx, scope); err != nil || !ok || string(e.value) != want {
				t.Fatalf("%s after the fence: %q %v %v, want %q", scope, e.value, ok, err, want)
			}
		}
		fence, err := js.Stream(ctx, keysBucketStream)
		if err != nil {
			t.Fatal(err)
		}
		if info := fence.CachedInfo(); !info.Config.Sealed || info.State.Msgs != 0 || info.Config.Description != keysFenceNote {
			t.Fatalf("fence: sealed %v, %d messages, %q", info.Config.Sealed, info.State.Msgs, info.Config.Description)
		}
	})
	if dirHolds(t, dir, needle) {
		t.Fatal("the key of the bucket deleted half-way is still in the files")
	}
}

func withEmbedded(t *testing.T, dir string, f func(jetstream.JetStream)) {
	t.Helper()
	srv, err := embedded.StartEmbedded(context.Background(), embedded.EmbeddedOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := srv.Connect("t")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	f(js)
}

func dirHolds(t *testing.T, dir, needle string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = found || strings.Contains(string(b), needle)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
