package eventstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// KeysBucket is the JetStream KV bucket holding wrapped data keys. It is apart from the
// event stream so that keys can be rotated and purged (crypto-shredding).
const KeysBucket = "KEYLEDGER_KEYS"

// ErrDecrypt means a ciphertext did not open: wrong key, wrong associated data, or
// tampering. It never says which, and never carries the plaintext.
var ErrDecrypt = errors.New("eventstore: ciphertext does not open")

// ErrNoKey means an organization's data key is missing, for example after it was shredded.
var ErrNoKey = errors.New("eventstore: data key not found")

// MasterKey is the key-encryption key (KEK) that wraps every organization's data key.
type MasterKey struct {
	key []byte
	id  string
}

// ParseMasterKey reads a 32-byte key written as 64 hex digits or as base64.
func ParseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		raw = b
	} else if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		raw = b
	} else if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil && len(b) == 32 {
		raw = b
	} else {
		return MasterKey{}, errors.New("master key must be 32 bytes, written as 64 hex digits or base64")
	}
	sum := sha256.Sum256(raw)
	return MasterKey{key: raw, id: hex.EncodeToString(sum[:4])}, nil
}

// ID is a short fingerprint of the master key, recorded beside each wrapped data key.
func (m MasterKey) ID() string { return m.id }

type wrappedKey struct {
	KEK     string `json:"kek"`
	Wrapped []byte `json:"wrapped"`
}

// Keyring seals and opens data with per-organization data keys (DEKs), creating a DEK
// the first time an organization needs one. DEKs are stored wrapped by the master key
// in a KV bucket and cached unwrapped in memory.
type Keyring struct {
	master MasterKey
	kv     jetstream.KeyValue
	leader leaderGetter
	mu     sync.Mutex
	cache  map[string]cipher.AEAD // "<scope>/<version>"
}

// NewKeyring opens (or creates) the keys bucket.
func NewKeyring(ctx context.Context, js jetstream.JetStream, master MasterKey, replicas int) (*Keyring, error) {
	kv, err := createBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: KeysBucket, History: 1, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("keys bucket: %w", err)
	}
	return &Keyring{master: master, kv: kv, leader: leaderGetter{js: js, bucket: KeysBucket}, cache: map[string]cipher.AEAD{}}, nil
}

// currentVersion is the DEK version new data is sealed with. Rotation adds versions;
// the first is 1.
const currentVersion = 1

func keyName(scope string, version int) string {
	return scope + ".v" + strconv.Itoa(version)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (k *Keyring) wrapAAD(scope string, version int) []byte {
	return []byte("keyledger/dek/" + scope + "/" + strconv.Itoa(version))
}

// dek returns the data key of scope at version, creating version 1 when it is missing
// and create is true.
func (k *Keyring) dek(ctx context.Context, scope string, version int, create bool) (cipher.AEAD, error) {
	name := keyName(scope, version)
	k.mu.Lock()
	a, ok := k.cache[name]
	k.mu.Unlock()
	if ok {
		return a, nil
	}
	stored, err := k.storedDEK(ctx, name)
	switch {
	case errors.Is(err, ErrNoKey) && create:
		raw, err := k.createDEK(ctx, name, scope, version)
		if err != nil {
			return nil, err
		}
		return k.remember(name, raw)
	case err != nil:
		return nil, err
	}
	raw, err := k.unwrap(stored, scope, version)
	if err != nil {
		return nil, err
	}
	return k.remember(name, raw)
}

// remember caches the AEAD of a data key.
func (k *Keyring) remember(name string, raw []byte) (cipher.AEAD, error) {
	a, err := newAEAD(raw)
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w", name, err)
	}
	k.mu.Lock()
	k.cache[name] = a
	k.mu.Unlock()
	return a, nil
}

// storedDEK reads a wrapped data key. A direct get's "not found" is confirmed with the
// stream leader first: a lagging replica must never make a key look missing.
func (k *Keyring) storedDEK(ctx context.Context, name string) ([]byte, error) {
	entry, err := k.kv.Get(ctx, name)
	if err == nil {
		return entry.Value(), nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("data key %s: %w", name, err)
	}
	v, ok, err := k.leader.get(ctx, name)
	switch {
	case err != nil:
		return nil, fmt.Errorf("data key %s: %w", name, err)
	case !ok:
		return nil, fmt.Errorf("data key %s: %w", name, ErrNoKey)
	}
	return v, nil
}

// createDEK makes a data key and stores it wrapped, unless another process made it
// first; it returns the key that is stored either way.
func (k *Keyring) createDEK(ctx context.Context, name, scope string, version int) ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("create data key: %w", err)
	}
	wrapped, err := k.wrap(raw, scope, version)
	if err != nil {
		return nil, err
	}
	_, err = k.kv.Create(ctx, name, wrapped)
	if err == nil {
		return raw, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("create data key %s: %w", name, err)
	}
	// Another process made it first: use theirs, read from the leader (a direct get
	// could still miss it on a lagging replica).
	stored, ok, err := k.leader.get(ctx, name)
	if err != nil || !ok {
		return nil, fmt.Errorf("data key %s: %w", name, errors.Join(err, ErrNoKey))
	}
	return k.unwrap(stored, scope, version)
}

func (k *Keyring) wrap(raw []byte, scope string, version int) ([]byte, error) {
	kek, err := newAEAD(k.master.key)
	if err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	nonce := make([]byte, kek.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	ct := kek.Seal(nonce, nonce, raw, k.wrapAAD(scope, version))
	return json.Marshal(wrappedKey{KEK: k.master.id, Wrapped: ct})
}

func (k *Keyring) unwrap(stored []byte, scope string, version int) ([]byte, error) {
	var w wrappedKey
	if err := json.Unmarshal(stored, &w); err != nil {
		return nil, fmt.Errorf("data key %s/%d: %w", scope, version, err)
	}
	if w.KEK != k.master.id {
		return nil, fmt.Errorf("data key %s/%d is wrapped by master key %s, not %s: %w", scope, version, w.KEK, k.master.id, ErrDecrypt)
	}
	kek, err := newAEAD(k.master.key)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	if len(w.Wrapped) < kek.NonceSize() {
		return nil, ErrDecrypt
	}
	raw, err := kek.Open(nil, w.Wrapped[:kek.NonceSize()], w.Wrapped[kek.NonceSize():], k.wrapAAD(scope, version))
	if err != nil {
		return nil, ErrDecrypt
	}
	return raw, nil
}

// seal encrypts plaintext under scope's current DEK, bound to aad. The result carries
// the DEK version.
func (k *Keyring) seal(ctx context.Context, scope string, plaintext, aad []byte) (ciphertext []byte, version int, err error) {
	a, err := k.dek(ctx, scope, currentVersion, true)
	if err != nil {
		return nil, 0, err
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, 0, fmt.Errorf("seal: %w", err)
	}
	return a.Seal(nonce, nonce, plaintext, aad), currentVersion, nil
}

func (k *Keyring) open(ctx context.Context, scope string, version int, ciphertext, aad []byte) ([]byte, error) {
	a, err := k.dek(ctx, scope, version, false)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < a.NonceSize() {
		return nil, ErrDecrypt
	}
	pt, err := a.Open(nil, ciphertext[:a.NonceSize()], ciphertext[a.NonceSize():], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// Seal encrypts data for scope (an organization id, or the platform scope) bound to the
// associated data aad, as a self-describing text "kl1.<dek version>.<base64>".
func (k *Keyring) Seal(ctx context.Context, scope string, data, aad []byte) (string, error) {
	ct, v, err := k.seal(ctx, scope, data, aad)
	if err != nil {
		return "", err
	}
	return "kl1." + strconv.Itoa(v) + "." + base64.RawURLEncoding.EncodeToString(ct), nil
}

// Open reverses Seal; a text sealed for another scope or aad fails with ErrDecrypt.
func (k *Keyring) Open(ctx context.Context, scope, sealed string, aad []byte) ([]byte, error) {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "kl1" {
		return nil, ErrDecrypt
	}
	v, err := strconv.Atoi(parts[1])
	if err != nil || v < 1 {
		return nil, ErrDecrypt
	}
	ct, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, ErrDecrypt
	}
	return k.open(ctx, scope, v, ct, aad)
}

// Shred deletes every version of scope's data key: all that was sealed for it becomes
// unreadable for good.
func (k *Keyring) Shred(ctx context.Context, scope string) error {
	for v := 1; v <= currentVersion; v++ {
		if err := k.kv.Purge(ctx, keyName(scope, v)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("shred %s: %w", scope, err)
		}
		k.mu.Lock()
		delete(k.cache, keyName(scope, v))
		k.mu.Unlock()
	}
	return nil
}

// Rewrap wraps every stored data key again under next, the new master key, and returns
// how many it rewrapped. Data keys themselves do not change, so nothing sealed with them
// needs rewriting; after it, only next opens them. Each key is replaced at the revision
// it was read at, so a concurrent writer is never overwritten.
func (k *Keyring) Rewrap(ctx context.Context, next MasterKey) (int, error) {
	lister, err := k.kv.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("list data keys: %w", err)
	}
	var names []string
	for name := range lister.Keys() {
		names = append(names, name)
	}
	n := 0
	for _, name := range names {
		scope, version, ok := parseKeyName(name)
		if !ok {
			continue
		}
		entry, err := k.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("data key %s: %w", name, err)
		}
		var w wrappedKey
		if err := json.Unmarshal(entry.Value(), &w); err != nil {
			return n, fmt.Errorf("data key %s: %w", name, err)
		}
		if w.KEK == next.id {
			continue // already under the new key (a rotation that was interrupted)
		}
		raw, err := k.unwrap(entry.Value(), scope, version)
		if err != nil {
			return n, err
		}
		rewrapped, err := (&Keyring{master: next}).wrap(raw, scope, version)
		if err != nil {
			return n, err
		}
		if _, err := k.kv.Update(ctx, name, rewrapped, entry.Revision()); err != nil {
			return n, fmt.Errorf("rewrap %s: %w", name, err)
		}
		n++
	}
	return n, nil
}

// parseKeyName splits "<scope>.v<version>".
func parseKeyName(name string) (string, int, bool) {
	i := strings.LastIndex(name, ".v")
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.Atoi(name[i+2:])
	if err != nil || v < 1 {
		return "", 0, false
	}
	return name[:i], v, true
}
