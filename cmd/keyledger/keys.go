package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/keyledger/keyledger/eventstore"
)

// keysCmd runs `keyledger keys rotate --new-master-key-file F`: every organization's
// data key is wrapped again under the new master key. Nothing in the log changes.
// Afterwards start every replica with the new key (KEYLEDGER_MASTER_KEY_FILE=F).
func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New("usage: keyledger keys rotate --new-master-key-file FILE")
	}
	fs, c := serverFlags("keys rotate", stderr, getenv)
	next := fs.String("new-master-key-file", "", "file holding the new master key (64 hex digits or base64 of 32 bytes)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	if *next == "" {
		return errors.New("--new-master-key-file is required")
	}
	b, err := os.ReadFile(*next)
	if err != nil {
		return fmt.Errorf("new master key: %w", err)
	}
	key, err := eventstore.ParseMasterKey(string(b))
	if err != nil {
		return fmt.Errorf("new master key: %w", err)
	}
	p, err := openLog(ctx, c, newLogger(c.LogLevel, stderr))
	if err != nil {
		return err
	}
	defer p.close()
	n, err := p.store.Keyring().Rewrap(ctx, key)
	if err != nil {
		return fmt.Errorf("rotated %d data keys, then: %w", n, err)
	}
	fmt.Fprintf(stdout, "rewrapped %d data keys under master key %s; start every replica with the new key now\n", n, key.ID())
	return nil
}
