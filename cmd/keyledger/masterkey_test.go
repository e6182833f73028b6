package main

import (
	"os"
	"path/filepath"
	"testing"
)

// serve --dev makes its master key once, 0600, and uses the same one on every later
// start; a key file it cannot read is an error, never replaced.
func TestGenerateMasterKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "master.key")
	first, created, err := generateMasterKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first start: created %v, %v", created, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Fatalf("key file mode %o, want 600", mode)
	}
	again, created, err := generateMasterKeyFile(path)
	if err != nil || created {
		t.Fatalf("second start: created %v, %v", created, err)
	}
	if again.ID() != first.ID() {
		t.Fatalf("second start uses key %s, want the first %s", again.ID(), first.ID())
	}

	// A directory where the file should be cannot be read as a key: refused, not replaced.
	blocked := filepath.Join(t.TempDir(), "master.key")
	if err := os.Mkdir(blocked, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := generateMasterKeyFile(blocked); err == nil {
		t.Fatal("an unreadable key path was accepted")
	}
}
