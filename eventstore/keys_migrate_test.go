package eventstore_test

import (
	"context"
	"testing"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/embedded"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/nats-io/nats.go/jetstream"
)

// A JetStream that an older keyledger left, with its keys in KV KEYLEDGER_KEYS: the
// first keyring moves them to the keysets stream and deletes the bucket, and with it
// the superseded and purged keysets that its files held; a second start changes
// nothing; and an older keyledger that starts afterwards cannot recreate the bucket
// (it would make new data keys for every organization) but fails.
func TestKeysBucketMovesToTheKeysetsStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := embedded.StartEmbedded(ctx, embedded.EmbeddedOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect("t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	seed := eventstoretest.SeedOldKeysBucket(t, js, eventstoretest.TestMasterKey, 12)
	if found := eventstoretest.FindInDir(t, dir, seed.Superseded); len(found) != len(seed.Superseded) {
		t.Fatalf("before the move the files hold %d of %d superseded keysets: the check after it would prove nothing", len(found), len(seed.Superseded))
	}

	seed.Verify(t, js, eventstoretest.TestMasterKey)
	if found := eventstoretest.FindInDir(t, dir, seed.Superseded); len(found) != 0 {
		t.Fatalf("after the move %d superseded or purged keysets are still in the files", len(found))
	}
	seed.Verify(t, js, eventstoretest.TestMasterKey) // idempotent

	// An older keyledger opens its bucket like this (createBucket before keysets).
	old := jetstream.KeyValueConfig{Bucket: eventstore.KeysBucket, History: 1, Storage: jetstream.FileStorage}
	if _, err := js.CreateKeyValue(ctx, old); err == nil {
		t.Fatal("an older keyledger created the keys bucket again")
	}
	if _, err := js.UpdateKeyValue(ctx, old); err == nil {
		t.Fatal("an older keyledger updated the fence into a keys bucket")
	}
	seed.Verify(t, js, eventstoretest.TestMasterKey)
}
