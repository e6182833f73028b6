package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// fallbackCache is the encrypted copy of one organization's environment that `run`
// keeps after every successful fetch, for `run --fallback` to start from while the
// server is unreachable. It is sealed with AES-256-GCM under a key derived from the
// token (HKDF-SHA256 with a random salt per write), so only a holder of the token can
// open it; the server, organization and environment are its associated data, so a
// file copied to another name does not open.
type fallbackCache struct {
	path string
	aad  []byte
}

// fallbackVersion is the file format's version.
const fallbackVersion = 1

// fallbackInfo is HKDF's info: the purpose the key is derived for.
const fallbackInfo = "keyledger run fallback cache v1"

// fallbackFile is the file on disk: nothing in it is readable without the token.
type fallbackFile struct {
	Version    int    `json:"version"`
	Salt       []byte `json:"salt"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// fallbackPayload is what the file seals.
type fallbackPayload struct {
	Values    map[string]string `json:"values"`
	Seq       uint64            `json:"seq"`
	FetchedAt time.Time         `json:"fetched_at"`
}

// newFallbackCache locates the cache of server, org (as the user named it: the cache
// must be found without asking the server) and env: file when given, else one file
// per server+org+env, named by a hash, under the user's cache directory.
func newFallbackCache(getenv func(string) string, file, server, org, env string) (fallbackCache, error) {
	ident := "keyledger-fallback\x00" + server + "\x00" + org + "\x00" + env
	c := fallbackCache{path: file, aad: []byte(ident)}
	if c.path != "" {
		return c, nil
	}
	dir, err := userDir(getenv, "XDG_CACHE_HOME", ".cache", os.UserCacheDir)
	if err != nil {
		return c, fmt.Errorf("find the cache directory: %w", err)
	}
	sum := sha256.Sum256([]byte(ident))
	c.path = filepath.Join(dir, "keyledger", "fallback", hex.EncodeToString(sum[:])+".json")
	return c, nil
}

func fallbackAEAD(token string, salt []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(token), salt, fallbackInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// write seals p and replaces the file atomically (0600, directory 0700).
func (c fallbackCache) write(token string, p fallbackPayload) error {
	plain, err := json.Marshal(p)
	if err != nil {
		return err
	}
	f := fallbackFile{Version: fallbackVersion, Salt: make([]byte, 32)}
	if _, err := rand.Read(f.Salt); err != nil {
		return err
	}
	aead, err := fallbackAEAD(token, f.Salt)
	if err != nil {
		return err
	}
	f.Nonce = make([]byte, aead.NonceSize())
	if _, err := rand.Read(f.Nonce); err != nil {
		return err
	}
	f.Ciphertext = aead.Seal(nil, f.Nonce, plain, c.aad)
	clear(plain)
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return writePrivateFile(c.path, b)
}

// errNoFallback means that no cache was written for this server, org and env.
var errNoFallback = errors.New("no fallback cache for this organization and environment yet (a successful run writes one)")

// read opens the cache with token.
func (c fallbackCache) read(token string) (fallbackPayload, error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fallbackPayload{}, errNoFallback
	}
	if err != nil {
		return fallbackPayload{}, err
	}
	var f fallbackFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != fallbackVersion {
		return fallbackPayload{}, fmt.Errorf("the fallback cache %s is not a version %d cache", c.path, fallbackVersion)
	}
	aead, err := fallbackAEAD(token, f.Salt)
	if err != nil {
		return fallbackPayload{}, err
	}
	if len(f.Nonce) != aead.NonceSize() {
		return fallbackPayload{}, fmt.Errorf("the fallback cache %s is damaged", c.path)
	}
	plain, err := aead.Open(nil, f.Nonce, f.Ciphertext, c.aad)
	if err != nil {
		return fallbackPayload{}, fmt.Errorf("the fallback cache %s does not open with this token (written with another token, or for another organization or environment)", c.path)
	}
	defer clear(plain)
	var p fallbackPayload
	if err := json.Unmarshal(plain, &p); err != nil {
		return fallbackPayload{}, fmt.Errorf("the fallback cache %s is damaged", c.path)
	}
	return p, nil
}
