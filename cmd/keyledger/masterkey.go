package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/keyledger/keyledger/eventstore"
)

// generateMasterKeyFile writes a new random master key to path (mode 0600) unless a key
// is already there, and returns the key in the file and whether it made it. It is
// serve --dev's set-up, beside the rest of it: the keyring needs only ParseMasterKey,
// and the log's package does no file I/O of its own.
//
// Only a missing file is replaced: a file that cannot be read (permissions, say) is an
// error, never a reason to write a new key over the one every secret is sealed with.
func generateMasterKeyFile(path string) (eventstore.MasterKey, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := eventstore.ParseMasterKey(string(b))
		return k, false, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return eventstore.MasterKey{}, false, fmt.Errorf("read master key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return eventstore.MasterKey{}, false, fmt.Errorf("generate master key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return eventstore.MasterKey{}, false, fmt.Errorf("generate master key: %w", err)
	}
	// O_EXCL: two dev processes starting at once never write two different keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return eventstore.MasterKey{}, false, fmt.Errorf("generate master key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(raw) + "\n"); err != nil {
		f.Close()
		return eventstore.MasterKey{}, false, fmt.Errorf("generate master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return eventstore.MasterKey{}, false, fmt.Errorf("generate master key: %w", err)
	}
	k, err := eventstore.ParseMasterKey(hex.EncodeToString(raw))
	return k, true, err
}
