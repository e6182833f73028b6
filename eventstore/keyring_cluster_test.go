package eventstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
)

// Two replicas on a three-node cluster (R3 keys bucket): a data-key rotation on one is
// what the other seals with soon after, both open each other's ciphertexts, and a shred
// on one evicts the organization from the other's cache.
func TestDataKeyRotationAcrossClusterReplicas(t *testing.T) {
	t.Parallel()
	// SyncAlways, as production runs it (and so that the blocks checked below are written).
	cl := eventstoretest.NewCluster(t, 3, eventstoretest.WithSyncAlways())
	ctx, cancel := context.WithTimeout(context.Background(), 2*eventstore.SetupTimeout)
	defer cancel()
	a, b := cl.Store(ctx, t, "replica-a"), cl.Store(ctx, t, "replica-b")
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Keyring().Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	const org = "org-cluster"
	ka, kb := a.Keyring(), b.Keyring()
	first, err := ka.Seal(ctx, org, []byte("one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	keysets, err := a.JetStream().Stream(ctx, eventstore.KeysetsStream)
	if err != nil {
		t.Fatal(err)
	}
	revision := func() string {
		m, err := keysets.GetLastMsgForSubject(ctx, "kl.keysets."+org)
		if err != nil {
			t.Fatal(err)
		}
		return string(m.Data)
	}
	revisions := []string{revision()}
	if got, err := kb.Open(ctx, org, first, nil); err != nil || string(got) != "one" {
		t.Fatalf("replica b opens a's version 1: %q %v", got, err)
	}
	if v, err := ka.Rotate(ctx, org); err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	revisions = append(revisions, revision())
	second, err := ka.Seal(ctx, org, []byte("two"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kb.Open(ctx, org, second, nil); err != nil || string(got) != "two" {
		t.Fatalf("replica b opens a's version 2: %q %v", got, err)
	}
	poll(t, "replica b to seal with version 2", func() bool {
		sealed, err := kb.Seal(ctx, org, []byte("x"), nil)
		v, _ := eventstore.SealedVersion(sealed)
		return err == nil && v == 2
	})
	// The counters bucket may still be electing its leader on the new cluster: that
	// answer is "unavailable" (a 503 to a client), which is waited out here.
	var vs []eventstore.KeyVersion
	poll(t, "replica b to read its versions", func() bool {
		vs, err = kb.Versions(ctx, org)
		return !eventstore.IsUnavailable(err)
	})
	if err != nil || len(vs) != 2 || vs[0].State != eventstore.KeyRetired || vs[1].State != eventstore.KeyActive {
		t.Fatalf("versions on replica b: %+v %v", vs, err)
	}
	blocks := func(i int) string {
		return filepath.Join(cl.Server(i).StoreDir(), "$G", "streams", eventstore.KeysetsStream)
	}
	poll(t, "every node's blocks to hold the current keyset (else the check below proves nothing)", func() bool {
		for i := range cl.Size() {
			if len(eventstoretest.FindInDir(t, blocks(i), revisions[1:])) == 0 {
				return false
			}
		}
		return true
	})
	if err := ka.Shred(ctx, org); err != nil {
		t.Fatal(err)
	}
	poll(t, "replica b to drop the shredded keys", func() bool {
		_, err := kb.Open(ctx, org, first, nil)
		return errors.Is(err, eventstore.ErrNoKey)
	})
	// The erase reaches every node's copy of the stream: no revision is left in any
	// node's message blocks. (The Raft WAL, apart from them, keeps its entries until
	// the next snapshot: the cluster caveat in the README.)
	poll(t, "every node's blocks to lose the erased keysets", func() bool {
		for i := range cl.Size() {
			if len(eventstoretest.FindInDir(t, blocks(i), revisions)) > 0 {
				return false
			}
		}
		return true
	})
}

// poll waits for cond; the generous bound only stops a broken watch from hanging the run.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
