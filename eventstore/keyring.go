package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/insecuresecretdataaccess"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/secretdata"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Data keys live apart from the event stream so that they can be rotated and erased
// (crypto-shredding). Per scope (an organization id, or the platform scope) the last
// message of kl.keysets.<scope> in KeysetsStream (keyset_stream.go) is one of:
//
//	keyset     the scope's Tink keyset (AES-256-GCM keys, one per data-key version),
//	           encrypted by the master key with the associated data
//	           "keyledger/keyset/<scope>", beside its version list (storedKeyset)
//	legacy     a data key written before keysets existed (raw AES-256-GCM key wrapped
//	           by the master key), moved from the keys bucket; never written any more
//	destroyed  after Shred: which versions existed and when they were destroyed (no
//	           key material)
//
// and "<scope>.count" in KeyCountsBucket holds the encryptions per version, flushed
// from every replica's counters.

// DefaultDataKeyMaxEncryptions is how many values one data-key version seals before the
// keyring rotates to a new version. AES-GCM with random 96-bit nonces must stay well
// under 2^32 encryptions per key (NIST SP 800-38D §8.3) so that the chance of a repeated
// nonce — which would leak the XOR of two plaintexts and the authentication key — stays
// below 2^-32; 2^31 leaves a factor of two for the counters of several replicas that
// are not flushed yet.
const DefaultDataKeyMaxEncryptions = 1 << 31

// DefaultKeyFlushInterval is how often Run writes the encryption counters to the bucket.
const DefaultKeyFlushInterval = 10 * time.Second

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

// aead is the master key as a Tink AEAD, for encrypting keysets.
func (m MasterKey) aead() (tink.AEAD, error) {
	a, err := subtle.NewAESGCM(m.key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return a, nil
}

// KeyState is the state of one data-key version.
type KeyState string

// The states of a data-key version.
const (
	// KeyActive is the primary version: new data is sealed with it.
	KeyActive KeyState = "active"
	// KeyRetired versions seal nothing new but still open what they sealed.
	KeyRetired KeyState = "retired"
	// KeyDestroyed versions were shredded: what they sealed is unreadable for good.
	KeyDestroyed KeyState = "destroyed"
)

// KeyVersion describes one data-key version of a scope.
type KeyVersion struct {
	Version   int
	CreatedAt time.Time
	State     KeyState
	// Encryptions is how many seals the version made, as far as the bucket's counters
	// and this replica's unflushed ones know.
	Encryptions uint64
}

// RotationObserver hears each automatic rotation this keyring made: scope's data key
// passed the encryption limit and version is now its active one.
type RotationObserver func(ctx context.Context, scope string, version int)

// KeyringOptions configure a Keyring.
type KeyringOptions struct {
	// Replicas of the keys bucket: 1 embedded, 3 on a cluster.
	Replicas int
	// MaxEncryptions rotates a scope's data key once its primary version has sealed
	// this many values; 0 means DefaultDataKeyMaxEncryptions.
	MaxEncryptions uint64
	// FlushInterval is how often Run flushes the encryption counters; 0 means
	// DefaultKeyFlushInterval.
	FlushInterval time.Duration
	// Logger hears automatic rotations and failed flushes; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type wrappedKey struct {
	KEK     string `json:"kek"`
	Wrapped []byte `json:"wrapped"`
}

// storedKeyset is the value of "<scope>.keyset".
type storedKeyset struct {
	KEK string `json:"kek"`
	// Keyset is the Tink keyset, binary, encrypted by the master key with the
	// associated data keysetAAD(scope).
	Keyset   []byte          `json:"keyset"`
	Versions []storedVersion `json:"versions"`
}

// storedVersion maps a data-key version to its Tink key id. Versions made by this
// keyring have key id == version (the ciphertext's Tink prefix names the version); a
// data key from before keysets is imported as version 1 with Tink's "no prefix" output,
// which is exactly the old "nonce || ciphertext || tag" layout.
type storedVersion struct {
	Version   int       `json:"version"`
	KeyID     uint32    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	Legacy    bool      `json:"legacy,omitempty"`
}

// destroyedRecord is the value of "<scope>.destroyed".
type destroyedRecord struct {
	Versions    []storedVersion `json:"versions"`
	DestroyedAt time.Time       `json:"destroyed_at"`
}

// scopeKeys is one scope's keyset, opened, as cached.
type scopeKeys struct {
	primitive tink.AEAD
	handle    *keyset.Handle
	versions  []storedVersion
	primary   storedVersion
	byKeyID   map[uint32]int
	// revision of "<scope>.keyset"; 0 when the scope has only a pre-keyset key.
	revision uint64
	// name is the scope's name key (NameKey), derived on first use.
	nameOnce sync.Once
	name     []byte
	nameErr  error
}

// Keyring seals and opens data with per-scope data keys (DEKs), creating the first
// version the first time a scope needs one. Each scope's versions are the keys of one
// Tink keyset, stored encrypted by the master key in a KV bucket and cached opened in
// memory. Run keeps the cache in step with other replicas and flushes the counters.
type Keyring struct {
	master MasterKey
	store  keysetStore
	// countKV holds the flushed encryption counters.
	countKV jetstream.KeyValue
	opts    KeyringOptions
	log     *slog.Logger
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]*scopeKeys
	// counts are encryptions per "<scope>" and version not yet flushed; stored are the
	// totals the bucket held at the last flush.
	counts map[string]map[int]uint64
	stored map[string]map[int]uint64
	// rotating marks scopes with an automatic rotation under way.
	rotating map[string]bool
	// rotateMu serializes this keyring's rotations.
	rotateMu sync.Mutex
	// observer, when set, hears automatic rotations; set after the keyring is open.
	// observing counts the reports under way.
	observer  atomic.Pointer[RotationObserver]
	observing sync.WaitGroup
}

// ObserveRotations makes o hear every later automatic rotation (nil stops it). The
// process records them in the log; a manual rotation is recorded by its command.
func (k *Keyring) ObserveRotations(o RotationObserver) {
	if o == nil {
		k.observer.Store(nil)
		return
	}
	k.observer.Store(&o)
}

// NewKeyring opens (or creates) the keys bucket with default options.
func NewKeyring(ctx context.Context, js jetstream.JetStream, master MasterKey, replicas int) (*Keyring, error) {
	return NewKeyringWith(ctx, js, master, KeyringOptions{Replicas: replicas})
}

// NewKeyringWith opens (or creates) the keysets stream and the counters bucket, moves
// the keys bucket of an older version there, and erases whatever superseded keys an
// interrupted rotation or shred left behind.
func NewKeyringWith(ctx context.Context, js jetstream.JetStream, master MasterKey, opts KeyringOptions) (*Keyring, error) {
	store, err := openKeysetStore(ctx, js, opts.Replicas)
	if err != nil {
		return nil, err
	}
	countKV, err := createBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: KeyCountsBucket, History: 1, Storage: jetstream.FileStorage, Replicas: max(opts.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("key counters bucket: %w", err)
	}
	if err := migrateKeysBucket(ctx, js, store, countKV, opts.Replicas); err != nil {
		return nil, err
	}
	if _, err := retrySetup(ctx, js.Conn(), func(ctx context.Context) (struct{}, error) { return struct{}{}, store.sweep(ctx) }); err != nil {
		return nil, fmt.Errorf("erase superseded data keys: %w", err)
	}
	if opts.MaxEncryptions == 0 {
		opts.MaxEncryptions = DefaultDataKeyMaxEncryptions
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultKeyFlushInterval
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Keyring{
		master: master, store: store, countKV: countKV, opts: opts, log: logger, now: now,
		cache: map[string]*scopeKeys{}, counts: map[string]map[int]uint64{}, stored: map[string]map[int]uint64{},
		rotating: map[string]bool{},
	}, nil
}

func countName(scope string) string { return scope + ".count" }

func legacyWrapAAD(scope string, version int) []byte {
	return []byte("keyledger/dek/" + scope + "/" + strconv.Itoa(version))
}

func keysetAAD(scope string) []byte {
	return []byte("keyledger/keyset/" + scope)
}

// aesGCMParams are the parameters of every data key: AES-256-GCM with a 96-bit random
// nonce and a 128-bit tag.
func aesGCMParams(variant aesgcm.Variant) (*aesgcm.Parameters, error) {
	return aesgcm.NewParameters(aesgcm.ParametersOpts{KeySizeInBytes: 32, IVSizeInBytes: 12, TagSizeInBytes: 16, Variant: variant})
}

// newVersionKey makes a fresh data key whose Tink key id is its version.
func newVersionKey(version int) (*aesgcm.Key, error) {
	params, err := aesGCMParams(aesgcm.VariantTink)
	if err != nil {
		return nil, err
	}
	b, err := secretdata.NewBytesFromRand(32)
	if err != nil {
		return nil, err
	}
	return aesgcm.NewKey(b, uint32(version), params)
}

// legacyKey imports a data key from before keysets; its output has no prefix, as it had.
func legacyKey(raw []byte) (*aesgcm.Key, error) {
	params, err := aesGCMParams(aesgcm.VariantNoPrefix)
	if err != nil {
		return nil, err
	}
	return aesgcm.NewKey(secretdata.NewBytesFromData(raw, insecuresecretdataaccess.Token{}), 0, params)
}

// open builds the cached form of a keyset handle.
func newScopeKeys(h *keyset.Handle, versions []storedVersion, revision uint64) (*scopeKeys, error) {
	p, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("keyset primitive: %w", err)
	}
	primary, err := h.Primary()
	if err != nil {
		return nil, fmt.Errorf("keyset primary: %w", err)
	}
	sk := &scopeKeys{primitive: p, handle: h, versions: versions, byKeyID: map[uint32]int{}, revision: revision}
	for _, v := range versions {
		sk.byKeyID[v.KeyID] = v.Version
		if v.KeyID == primary.KeyID() {
			sk.primary = v
		}
	}
	if sk.primary.Version == 0 {
		return nil, fmt.Errorf("keyset primary %d has no version: %w", primary.KeyID(), ErrDecrypt)
	}
	return sk, nil
}

// CheckMaster opens the platform's keyset, when there is one, with the master key in
// use, and says so when another master key sealed it (ErrDecrypt): serve refuses to
// start then, where it used to say it was ready and answer every login and token 500.
// A fresh installation (no keyset yet) passes, and so does a keyset that cannot be read
// now (the log not reachable yet): a request that needs it answers that.
func (k *Keyring) CheckMaster(ctx context.Context) error {
	_, err := k.keys(ctx, domain.PlatformScope, false)
	if errors.Is(err, ErrDecrypt) {
		return fmt.Errorf("the master key does not open this installation's keys (start with the master key its data was written with): %w", err)
	}
	return nil
}

// keys returns scope's keys: from the cache, else from the bucket; when the scope has
// none and create is true, it makes version 1.
func (k *Keyring) keys(ctx context.Context, scope string, create bool) (*scopeKeys, error) {
	k.mu.Lock()
	sk, ok := k.cache[scope]
	k.mu.Unlock()
	if ok {
		return sk, nil
	}
	return k.load(ctx, scope, create)
}

// load reads scope's keys from the bucket (confirming misses with the leader) and caches
// them.
func (k *Keyring) load(ctx context.Context, scope string, create bool) (*scopeKeys, error) {
	sk, err := k.read(ctx, scope)
	if errors.Is(err, ErrNoKey) && create {
		sk, err = k.createKeyset(ctx, scope)
	}
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	_, known := k.stored[scope]
	k.mu.Unlock()
	if !known {
		// What the versions sealed before this process started counts towards the limit.
		if counts, _, err := k.storedCounts(ctx, scope); err == nil {
			k.setStored(scope, counts)
		}
	}
	k.remember(scope, sk)
	return sk, nil
}

// remember caches sk unless what is cached is newer: a later revision of the keyset
// with at least as many versions.
func (k *Keyring) remember(scope string, sk *scopeKeys) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if cur, ok := k.cache[scope]; ok && cur.revision > sk.revision && len(cur.versions) >= len(sk.versions) {
		return
	}
	k.cache[scope] = sk
}

// read returns scope's keys as the keysets stream's leader holds them: its keyset,
// else its data key from before keysets, else ErrNoKey (never made, or destroyed).
func (k *Keyring) read(ctx context.Context, scope string) (*scopeKeys, error) {
	e, ok, err := k.store.last(ctx, scope)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("data key %s: %w", scope, ErrNoKey)
	}
	return k.decode(scope, e)
}

// decode opens a message of the keysets stream.
func (k *Keyring) decode(scope string, e keyEntry) (*scopeKeys, error) {
	switch e.kind {
	case kindKeyset:
		return k.openKeyset(scope, e.value, e.seq)
	case kindLegacy:
		return k.openLegacy(scope, e.value, e.created, e.seq)
	case kindDestroyed:
		return nil, fmt.Errorf("data key %s: destroyed: %w", scope, ErrNoKey)
	}
	return nil, fmt.Errorf("data key %s: unknown kind %q: %w", scope, e.kind, ErrDecrypt)
}

// openLegacy makes a one-version keyset of a data key stored before keysets.
func (k *Keyring) openLegacy(scope string, stored []byte, created time.Time, revision uint64) (*scopeKeys, error) {
	raw, err := k.unwrapLegacy(stored, scope, 1)
	if err != nil {
		return nil, err
	}
	lk, err := legacyKey(raw)
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w", scope, err)
	}
	m := keyset.NewManager()
	id, err := m.AddKey(lk)
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w", scope, err)
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, fmt.Errorf("data key %s: %w", scope, err)
	}
	h, err := m.Handle()
	if err != nil {
		return nil, fmt.Errorf("data key %s: %w", scope, err)
	}
	return newScopeKeys(h, []storedVersion{{Version: 1, KeyID: id, CreatedAt: created, Legacy: true}}, revision)
}

// openKeyset decrypts a stored keyset.
func (k *Keyring) openKeyset(scope string, value []byte, revision uint64) (*scopeKeys, error) {
	var s storedKeyset
	if err := json.Unmarshal(value, &s); err != nil {
		return nil, fmt.Errorf("keyset %s: %w", scope, err)
	}
	if s.KEK != k.master.id {
		return nil, fmt.Errorf("keyset %s is encrypted by master key %s, not %s: %w", scope, s.KEK, k.master.id, ErrDecrypt)
	}
	h, err := k.decryptKeyset(scope, s.Keyset, k.master)
	if err != nil {
		return nil, err
	}
	return newScopeKeys(h, s.Versions, revision)
}

func (k *Keyring) decryptKeyset(scope string, enc []byte, master MasterKey) (*keyset.Handle, error) {
	kek, err := master.aead()
	if err != nil {
		return nil, err
	}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(enc)), kek, keysetAAD(scope))
	if err != nil {
		return nil, fmt.Errorf("keyset %s: %w", scope, ErrDecrypt)
	}
	return h, nil
}

// encode encrypts a keyset handle for the bucket under master.
func encodeKeyset(scope string, h *keyset.Handle, versions []storedVersion, master MasterKey) ([]byte, error) {
	kek, err := master.aead()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), kek, keysetAAD(scope)); err != nil {
		return nil, fmt.Errorf("encrypt keyset %s: %w", scope, err)
	}
	return json.Marshal(storedKeyset{KEK: master.id, Keyset: buf.Bytes(), Versions: versions})
}

// createKeyset makes scope's keyset with version 1 and stores it, unless another process
// made it first; it returns the keyset that is stored either way.
func (k *Keyring) createKeyset(ctx context.Context, scope string) (*scopeKeys, error) {
	key, err := newVersionKey(1)
	if err != nil {
		return nil, fmt.Errorf("create data key: %w", err)
	}
	m := keyset.NewManager()
	id, err := m.AddKey(key)
	if err != nil {
		return nil, fmt.Errorf("create data key: %w", err)
	}
	if err := m.SetPrimary(id); err != nil {
		return nil, fmt.Errorf("create data key: %w", err)
	}
	h, err := m.Handle()
	if err != nil {
		return nil, fmt.Errorf("create data key: %w", err)
	}
	versions := []storedVersion{{Version: 1, KeyID: id, CreatedAt: k.now().UTC()}}
	value, err := encodeKeyset(scope, h, versions, k.master)
	if err != nil {
		return nil, err
	}
	seq, err := k.store.put(ctx, scope, kindKeyset, value, 0, time.Time{})
	if err == nil {
		return newScopeKeys(h, versions, seq)
	}
	if !IsWrongLastSequence(err) {
		return nil, fmt.Errorf("create data key %s: %w", scope, err)
	}
	// Another process made it first (or the scope was shredded): use what is stored.
	e, err := k.store.lastAfterConflict(ctx, scope, 0)
	if err != nil {
		return nil, err
	}
	return k.decode(scope, e)
}

func (k *Keyring) unwrapLegacy(stored []byte, scope string, version int) ([]byte, error) {
	return unwrapLegacyWith(k.master, stored, scope, version)
}

func unwrapLegacyWith(master MasterKey, stored []byte, scope string, version int) ([]byte, error) {
	var w wrappedKey
	if err := json.Unmarshal(stored, &w); err != nil {
		return nil, fmt.Errorf("data key %s/%d: %w", scope, version, err)
	}
	if w.KEK != master.id {
		return nil, fmt.Errorf("data key %s/%d is wrapped by master key %s, not %s: %w", scope, version, w.KEK, master.id, ErrDecrypt)
	}
	kek, err := master.aead()
	if err != nil {
		return nil, err
	}
	raw, err := kek.Decrypt(w.Wrapped, legacyWrapAAD(scope, version))
	if err != nil {
		return nil, ErrDecrypt
	}
	return raw, nil
}

func wrapLegacy(master MasterKey, raw []byte, scope string, version int) ([]byte, error) {
	kek, err := master.aead()
	if err != nil {
		return nil, err
	}
	ct, err := kek.Encrypt(raw, legacyWrapAAD(scope, version))
	if err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	return json.Marshal(wrappedKey{KEK: master.id, Wrapped: ct})
}

// Ciphertext formats. Both are text, so they fit JSON and Postgres text columns.
//
//	kl1.<version>.<base64url(nonce || ciphertext || tag)>   before keysets; version is 1
//	kl2.<base64url(0x01 || uint32 BE version || nonce || ciphertext || tag)>
//
// kl2 is Tink's AEAD output with its "TINK" prefix; the key id in the prefix is the
// data-key version. A scope whose primary version is still its data key from before
// keysets keeps writing kl1, so that nothing changes for it until its first rotation.
const (
	sealedV1 = "kl1"
	sealedV2 = "kl2"
)

// Seal encrypts data for scope (an organization id, or the platform scope) bound to the
// associated data aad, as self-describing text naming the data-key version (see the
// formats above).
func (k *Keyring) Seal(ctx context.Context, scope string, data, aad []byte) (string, error) {
	sk, err := k.keys(ctx, scope, true)
	if err != nil {
		return "", err
	}
	ct, err := sk.primitive.Encrypt(data, aad)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	k.count(ctx, scope, sk.primary.Version)
	if sk.primary.Legacy {
		return sealedText(sealedV1+"."+strconv.Itoa(sk.primary.Version)+".", ct), nil
	}
	return sealedText(sealedV2+".", ct), nil
}

// sealedText is prefix and ct in unpadded URL-safe base64, in one allocation: the
// encoding's own buffer, its string and the concatenation after it were three copies
// of every sealed name, description, value and notice (a create seals six or so).
func sealedText(prefix string, ct []byte) string {
	enc := base64.RawURLEncoding
	var b strings.Builder
	b.Grow(len(prefix) + enc.EncodedLen(len(ct)))
	b.WriteString(prefix)
	// 192 bytes at a time, a multiple of 3: the pieces join as one encoding would.
	var piece [256]byte
	for len(ct) > 0 {
		n := min(len(ct), 192)
		enc.Encode(piece[:], ct[:n])
		b.Write(piece[:enc.EncodedLen(n)])
		ct = ct[n:]
	}
	return b.String()
}

// Open reverses Seal; a text sealed for another scope or aad fails with ErrDecrypt, and
// one whose scope has no keys (never made, or shredded) with ErrNoKey.
func (k *Keyring) Open(ctx context.Context, scope, sealed string, aad []byte) ([]byte, error) {
	version, ct, ok := parseSealed(sealed, nil)
	if !ok {
		return nil, ErrDecrypt
	}
	return k.openCiphertext(ctx, scope, version, ct, aad)
}

// openCiphertext opens a parsed sealed text: ct sealed under scope's key version.
func (k *Keyring) openCiphertext(ctx context.Context, scope string, version int, ct, aad []byte) ([]byte, error) {
	sk, err := k.keys(ctx, scope, false)
	if err != nil {
		return nil, err
	}
	if !sk.hasVersion(version) {
		// Sealed with a version this replica has not heard of yet: another replica
		// rotated. Read the keyset again before saying no.
		if sk, err = k.load(ctx, scope, false); err != nil {
			return nil, err
		}
		if !sk.hasVersion(version) {
			return nil, ErrDecrypt
		}
	}
	pt, err := sk.primitive.Decrypt(ct, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func (sk *scopeKeys) hasVersion(version int) bool {
	for _, v := range sk.versions {
		if v.Version == version {
			return true
		}
	}
	return false
}

// parseSealed returns the version a sealed text names and its ciphertext, decoded into
// buf's room when it has enough (nil: a new slice).
func parseSealed(sealed string, buf []byte) (int, []byte, bool) {
	decode := func(text string) ([]byte, bool) {
		n := base64.RawURLEncoding.DecodedLen(len(text))
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		n, err := base64.RawURLEncoding.Decode(buf[:n], []byte(text))
		return buf[:n], err == nil
	}
	switch {
	case strings.HasPrefix(sealed, sealedV1+"."):
		version, text, ok := strings.Cut(sealed[len(sealedV1)+1:], ".")
		if !ok {
			return 0, nil, false
		}
		v, err := strconv.Atoi(version)
		if err != nil || v < 1 {
			return 0, nil, false
		}
		ct, ok := decode(text)
		if !ok {
			return 0, nil, false
		}
		return v, ct, true
	case strings.HasPrefix(sealed, sealedV2+"."):
		ct, ok := decode(sealed[len(sealedV2)+1:])
		if !ok || len(ct) < 5 || ct[0] != 0x01 {
			return 0, nil, false
		}
		v := binary.BigEndian.Uint32(ct[1:5])
		if v < 1 || v > 1<<30 {
			return 0, nil, false
		}
		return int(v), ct, true
	}
	return 0, nil, false
}

// SealedVersion is the data-key version a sealed text names, for tools and tests.
func SealedVersion(sealed string) (int, bool) {
	v, _, ok := parseSealed(sealed, nil)
	return v, ok
}

// count adds one encryption by scope's version and rotates the scope when the version
// has passed the limit.
func (k *Keyring) count(ctx context.Context, scope string, version int) {
	k.mu.Lock()
	c := k.counts[scope]
	if c == nil {
		c = map[int]uint64{}
		k.counts[scope] = c
	}
	c[version]++
	total := c[version] + k.stored[scope][version]
	due := total >= k.opts.MaxEncryptions && !k.rotating[scope]
	if due {
		k.rotating[scope] = true
	}
	k.mu.Unlock()
	if !due {
		return
	}
	defer func() {
		k.mu.Lock()
		delete(k.rotating, scope)
		k.mu.Unlock()
	}()
	v, made, err := k.rotate(ctx, scope, version)
	if err != nil {
		k.log.WarnContext(ctx, "automatic data key rotation failed", "scope", scope, "version", version, "err", err)
		return
	}
	if !made {
		return // another replica rotated first, and records it
	}
	k.log.InfoContext(ctx, "data key rotated: encryption limit reached", "scope", scope, "from", version, "to", v, "limit", k.opts.MaxEncryptions)
	if o := k.observer.Load(); o != nil {
		// Apart from this seal: the observer appends to the log, and this seal may be
		// part of an append to the very same organization. Run waits for it at the end.
		octx := context.WithoutCancel(ctx)
		k.observing.Go(func() { (*o)(octx, scope, v) })
	}
}

// Rotate adds a new version to scope's keyset and makes it the primary: new data is
// sealed with it; everything sealed before still opens. It returns the new version.
func (k *Keyring) Rotate(ctx context.Context, scope string) (int, error) {
	v, _, err := k.rotate(ctx, scope, 0)
	return v, err
}

// rotate adds a version; when onlyFrom is not 0 it does so only while onlyFrom is still
// the primary (an automatic rotation that another replica may have made already). made
// says whether this call added the version it returns.
func (k *Keyring) rotate(ctx context.Context, scope string, onlyFrom int) (version int, made bool, err error) {
	k.rotateMu.Lock()
	defer k.rotateMu.Unlock()
	for attempt := 0; ; attempt++ {
		sk, err := k.read(ctx, scope)
		if errors.Is(err, ErrNoKey) {
			sk, err = k.createKeyset(ctx, scope)
		}
		if err != nil {
			return 0, false, fmt.Errorf("rotate %s: %w", scope, err)
		}
		if onlyFrom != 0 && sk.primary.Version != onlyFrom {
			k.remember(scope, sk)
			return sk.primary.Version, false, nil
		}
		next, value, err := k.addVersion(scope, sk)
		if err != nil {
			return 0, false, fmt.Errorf("rotate %s: %w", scope, err)
		}
		// A scope whose only key is from before keysets gets its keyset now.
		rev, err := k.store.put(ctx, scope, kindKeyset, value, sk.revision, time.Time{})
		if err != nil {
			if attempt < 5 && IsWrongLastSequence(err) {
				continue // another replica wrote first: read again
			}
			return 0, false, fmt.Errorf("rotate %s: %w", scope, err)
		}
		sk, err = k.openKeyset(scope, value, rev)
		if err != nil {
			return 0, false, err
		}
		k.remember(scope, sk)
		// The new keyset holds every version the old one did; the old one goes. Should
		// this fail (or the process die first), the next start's sweep erases it.
		if err := k.store.eraseBefore(ctx, scope, rev); err != nil {
			k.log.WarnContext(ctx, "erase the superseded keyset", "scope", scope, "err", err)
		}
		if err := k.flushScope(ctx, scope); err != nil {
			k.log.WarnContext(ctx, "flush data key counters", "scope", scope, "err", err)
		}
		return next, true, nil
	}
}

// addVersion returns scope's keyset with one more version, primary, encrypted.
func (k *Keyring) addVersion(scope string, sk *scopeKeys) (int, []byte, error) {
	next := 1
	for _, v := range sk.versions {
		next = max(next, v.Version+1)
	}
	key, err := newVersionKey(next)
	if err != nil {
		return 0, nil, err
	}
	m := keyset.NewManagerFromHandle(sk.handle)
	id, err := m.AddKey(key)
	if err != nil {
		return 0, nil, err
	}
	if err := m.SetPrimary(id); err != nil {
		return 0, nil, err
	}
	h, err := m.Handle()
	if err != nil {
		return 0, nil, err
	}
	versions := append(append([]storedVersion(nil), sk.versions...), storedVersion{Version: next, KeyID: id, CreatedAt: k.now().UTC()})
	value, err := encodeKeyset(scope, h, versions, k.master)
	return next, value, err
}

// Versions lists scope's data-key versions, oldest first. A scope never used has none;
// a shredded one lists its versions as destroyed.
func (k *Keyring) Versions(ctx context.Context, scope string) ([]KeyVersion, error) {
	sk, err := k.read(ctx, scope)
	if errors.Is(err, ErrNoKey) {
		return k.destroyedVersions(ctx, scope)
	}
	if err != nil {
		return nil, err
	}
	k.remember(scope, sk)
	counts, _, err := k.storedCounts(ctx, scope)
	if err != nil {
		return nil, err
	}
	k.setStored(scope, counts)
	k.mu.Lock()
	pending := k.counts[scope]
	out := make([]KeyVersion, 0, len(sk.versions))
	for _, v := range sk.versions {
		state := KeyRetired
		if v.Version == sk.primary.Version {
			state = KeyActive
		}
		out = append(out, KeyVersion{Version: v.Version, CreatedAt: v.CreatedAt, State: state, Encryptions: counts[v.Version] + pending[v.Version]})
	}
	k.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func (k *Keyring) destroyedVersions(ctx context.Context, scope string) ([]KeyVersion, error) {
	e, ok, err := k.store.last(ctx, scope)
	if err != nil {
		return nil, err
	}
	if !ok || e.kind != kindDestroyed {
		return []KeyVersion{}, nil
	}
	var d destroyedRecord
	if err := json.Unmarshal(e.value, &d); err != nil {
		return nil, fmt.Errorf("destroyed keys %s: %w", scope, err)
	}
	out := make([]KeyVersion, 0, len(d.Versions))
	for _, sv := range d.Versions {
		out = append(out, KeyVersion{Version: sv.Version, CreatedAt: sv.CreatedAt, State: KeyDestroyed})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// storedCounts reads scope's flushed counters and their revision (0: none yet).
func (k *Keyring) storedCounts(ctx context.Context, scope string) (map[int]uint64, uint64, error) {
	e, ok, err := GetKV(ctx, k.store.js, k.countKV, k.opts.Replicas, countName(scope))
	if err != nil {
		return nil, 0, fmt.Errorf("key counters %s: %w", scope, err)
	}
	if !ok {
		return map[int]uint64{}, 0, nil
	}
	var byText map[string]uint64
	if err := json.Unmarshal(e.Value, &byText); err != nil {
		return nil, 0, fmt.Errorf("key counters %s: %w", scope, err)
	}
	out := make(map[int]uint64, len(byText))
	for s, n := range byText {
		if v, err := strconv.Atoi(s); err == nil {
			out[v] = n
		}
	}
	return out, e.Revision, nil
}

// Flush writes every scope's unflushed encryption counts to the bucket.
func (k *Keyring) Flush(ctx context.Context) error {
	k.mu.Lock()
	scopes := make([]string, 0, len(k.counts))
	for s := range k.counts {
		scopes = append(scopes, s)
	}
	k.mu.Unlock()
	var errs []error
	for _, s := range scopes {
		errs = append(errs, k.flushScope(ctx, s))
	}
	return errors.Join(errs...)
}

// flushScope adds scope's unflushed counts to the bucket's, compare-and-set, and
// learns the totals (other replicas' counts included).
func (k *Keyring) flushScope(ctx context.Context, scope string) error {
	k.mu.Lock()
	pending := k.counts[scope]
	delete(k.counts, scope)
	k.mu.Unlock()
	err := k.addCounts(ctx, scope, pending)
	if err != nil {
		// Keep them for the next flush.
		k.mu.Lock()
		c := k.counts[scope]
		if c == nil {
			c = map[int]uint64{}
			k.counts[scope] = c
		}
		for v, n := range pending {
			c[v] += n
		}
		k.mu.Unlock()
	}
	return err
}

func (k *Keyring) addCounts(ctx context.Context, scope string, pending map[int]uint64) error {
	for attempt := 0; ; attempt++ {
		counts, rev, err := k.storedCounts(ctx, scope)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			k.setStored(scope, counts)
			return nil
		}
		for v, n := range pending {
			counts[v] += n
		}
		byText := make(map[string]uint64, len(counts))
		for v, n := range counts {
			byText[strconv.Itoa(v)] = n
		}
		value, err := json.Marshal(byText)
		if err != nil {
			return err
		}
		if rev == 0 {
			_, err = k.countKV.Create(ctx, countName(scope), value)
		} else {
			_, err = k.countKV.Update(ctx, countName(scope), value, rev)
		}
		if err == nil {
			k.setStored(scope, counts)
			return nil
		}
		if attempt >= 10 || !IsWrongLastSequence(err) {
			return fmt.Errorf("key counters %s: %w", scope, err)
		}
	}
}

func (k *Keyring) setStored(scope string, counts map[int]uint64) {
	k.mu.Lock()
	k.stored[scope] = counts
	k.mu.Unlock()
}
