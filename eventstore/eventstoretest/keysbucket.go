package eventstoretest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/nats-io/nats.go/jetstream"
)

// OldKeysBucket is a keys bucket as keyledger kept it before eventstore.KeysetsStream
// (KV KEYLEDGER_KEYS: "<scope>.keyset", "<scope>.v1", "<scope>.count",
// "<scope>.destroyed"), seeded for the tests of the move.
type OldKeysBucket struct {
	// Values are what each scope sealed before the move; all must open after it.
	Values []SealedValue
	// Erased is a scope shredded before the move.
	Erased string
	// Superseded are wrapped keysets the bucket replaced (rotations) or purged (the
	// erased scope's): its files hold them, and none may be anywhere after the move.
	Superseded []string
}

// SealedValue is one value sealed for Scope with the associated data oldBucketAAD.
type SealedValue struct {
	Scope, Sealed, Plain string
	// Rotated scopes have two versions; the others one.
	Rotated bool
}

const oldBucketAAD = "keyledger/test/old-bucket"

// SeedOldKeysBucket writes an old keys bucket with n scopes made by the keyring (every
// third rotated once, so that the bucket's files hold a superseded revision), two
// scopes with data keys from before keysets, and one erased scope, and removes
// everything the keyring keeps since (so that the JetStream looks as an older
// keyledger left it). masterHex is the master key, as 64 hex digits.
func SeedOldKeysBucket(tb testing.TB, js jetstream.JetStream, masterHex string, n int) OldKeysBucket {
	tb.Helper()
	ctx := context.Background()
	master, err := eventstore.ParseMasterKey(masterHex)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := eventstore.NewKeyring(ctx, js, master, 1)
	if err != nil {
		tb.Fatal(err)
	}
	keysets, err := js.Stream(ctx, eventstore.KeysetsStream)
	if err != nil {
		tb.Fatal(err)
	}
	current := func(scope string) []byte {
		m, err := keysets.GetLastMsgForSubject(ctx, "kl.keysets."+scope)
		if err != nil {
			tb.Fatalf("keyset of %s: %v", scope, err)
		}
		return m.Data
	}
	var seed OldKeysBucket
	entries := map[string][][]byte{} // bucket name → values put in order
	for i := range n {
		scope := fmt.Sprintf("old-%03d", i)
		seed.Values = append(seed.Values, sealValue(tb, k, scope, "first", false))
		if i%3 != 0 {
			entries[scope+".keyset"] = [][]byte{current(scope)}
			continue
		}
		first := current(scope)
		if _, err := k.Rotate(ctx, scope); err != nil {
			tb.Fatal(err)
		}
		seed.Values = append(seed.Values, sealValue(tb, k, scope, "second", true))
		entries[scope+".keyset"] = [][]byte{first, current(scope)}
		seed.Superseded = append(seed.Superseded, string(first))
	}
	seed.Erased = "old-erased"
	sealValue(tb, k, seed.Erased, "erased", false)
	erasedKeyset := current(seed.Erased)
	if err := k.Shred(ctx, seed.Erased); err != nil {
		tb.Fatal(err)
	}
	entries[seed.Erased+".keyset"] = [][]byte{erasedKeyset} // then purged, below
	entries[seed.Erased+".destroyed"] = [][]byte{current(seed.Erased)}
	seed.Superseded = append(seed.Superseded, string(erasedKeyset))
	if err := k.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	counts, err := js.KeyValue(ctx, eventstore.KeyCountsBucket)
	if err != nil {
		tb.Fatal(err)
	}
	for _, v := range seed.Values {
		if e, err := counts.Get(ctx, v.Scope+".count"); err == nil {
			entries[v.Scope+".count"] = [][]byte{e.Value()}
		}
	}
	for _, scope := range []string{"old-legacy-a", "old-legacy-b"} {
		wrapped, sealed := legacyKey(tb, masterHex, master.ID(), scope)
		entries[scope+".v1"] = [][]byte{wrapped}
		seed.Values = append(seed.Values, SealedValue{Scope: scope, Sealed: sealed, Plain: "legacy " + scope})
	}

	// The JetStream as an older keyledger left it: the bucket, and nothing newer.
	for _, name := range []string{eventstore.KeysetsStream, "KV_" + eventstore.KeyCountsBucket, "KV_" + eventstore.KeysBucket} {
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			tb.Fatal(err)
		}
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: eventstore.KeysBucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		tb.Fatal(err)
	}
	for name, values := range entries {
		for _, v := range values {
			if _, err := kv.Put(ctx, name, v); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := kv.Purge(ctx, seed.Erased+".keyset"); err != nil {
		tb.Fatal(err)
	}
	return seed
}

func sealValue(tb testing.TB, k *eventstore.Keyring, scope, what string, rotated bool) SealedValue {
	tb.Helper()
	plain := what + " value of " + scope
	sealed, err := k.Seal(context.Background(), scope, []byte(plain), []byte(oldBucketAAD))
	if err != nil {
		tb.Fatal(err)
	}
	return SealedValue{Scope: scope, Sealed: sealed, Plain: plain, Rotated: rotated}
}

// legacyKey makes a data key as keyledger stored it before keysets (the raw key
// wrapped by the master key) and a value sealed with it in that era's format.
func legacyKey(tb testing.TB, masterHex, kek, scope string) ([]byte, string) {
	tb.Helper()
	masterRaw, err := hex.DecodeString(masterHex)
	if err != nil {
		tb.Fatal(err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		tb.Fatal(err)
	}
	wrapped := gcmSeal(tb, masterRaw, raw, []byte("keyledger/dek/"+scope+"/1"))
	v, err := json.Marshal(map[string]any{"kek": kek, "wrapped": wrapped})
	if err != nil {
		tb.Fatal(err)
	}
	sealed := "kl1.1." + base64.RawURLEncoding.EncodeToString(gcmSeal(tb, raw, []byte("legacy "+scope), []byte(oldBucketAAD)))
	return v, sealed
}

func gcmSeal(tb testing.TB, key, plain, aad []byte) []byte {
	tb.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		tb.Fatal(err)
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		tb.Fatal(err)
	}
	return gcm.Seal(nonce, nonce, plain, aad)
}

// Verify checks the keys after the move with a fresh keyring (which finishes a move
// that was interrupted): every value opens, the erased scope stays erased, the
// counters came along, and the keys bucket's place is held by an empty, sealed stream.
func (o OldKeysBucket) Verify(tb testing.TB, js jetstream.JetStream, masterHex string) {
	tb.Helper()
	ctx := context.Background()
	master, err := eventstore.ParseMasterKey(masterHex)
	if err != nil {
		tb.Fatal(err)
	}
	k, err := eventstore.NewKeyring(ctx, js, master, 1)
	if err != nil {
		tb.Fatalf("open the keyring after the move: %v", err)
	}
	for _, v := range o.Values {
		got, err := k.Open(ctx, v.Scope, v.Sealed, []byte(oldBucketAAD))
		if err != nil || string(got) != v.Plain {
			tb.Fatalf("after the move %s's value does not open: %v", v.Scope, err)
		}
		if !strings.HasPrefix(v.Scope, "old-legacy") {
			vs, err := k.Versions(ctx, v.Scope)
			if err != nil || len(vs) == 0 || vs[0].Encryptions != 1 {
				tb.Fatalf("after the move %s's versions %+v (%v), want the counter of version 1 moved", v.Scope, vs, err)
			}
		}
	}
	vs, err := k.Versions(ctx, o.Erased)
	if err != nil || len(vs) != 1 || vs[0].State != eventstore.KeyDestroyed {
		tb.Fatalf("after the move the erased scope lists %+v (%v), want version 1 destroyed", vs, err)
	}
	if _, err := k.Seal(ctx, o.Erased, []byte("x"), nil); !errors.Is(err, eventstore.ErrNoKey) {
		tb.Fatalf("after the move the erased scope seals: %v, want ErrNoKey", err)
	}
	fence, err := js.Stream(ctx, "KV_"+eventstore.KeysBucket)
	if err != nil {
		tb.Fatalf("the keys bucket's place: %v", err)
	}
	if info := fence.CachedInfo(); !info.Config.Sealed || info.State.Msgs != 0 {
		tb.Fatalf("the keys bucket's place holds %d messages, sealed %v: want an empty, sealed fence", info.State.Msgs, info.Config.Sealed)
	}
}

// FindInDir returns the needles found in any file under dir.
func FindInDir(tb testing.TB, dir string, needles []string) []string {
	tb.Helper()
	found := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking (a compaction, a deleted stream)
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking (a compaction, a deleted stream)
		}
		if err != nil {
			return err
		}
		for _, n := range needles {
			if strings.Contains(string(b), n) {
				found[n] = true
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, 0, len(found))
	for n := range found {
		out = append(out, n)
	}
	return out
}
