package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/spf13/cobra"
)

// newKeysCommand is `keyledger keys`.
func newKeysCommand(cl cli) *cobra.Command {
	fs, c := offlineFlags("keys rotate", cl.stderr, cl.getenv)
	var next string
	rotate := &cobra.Command{
		Use:   "rotate --new-master-key-file FILE",
		Short: "wrap every data key again under a new master key",
		Long: `Wrap every organization's data key again under a new master key. Nothing in the
log changes. Afterwards start every replica with the new key
(KEYLEDGER_MASTER_KEY_FILE=FILE).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return keysRotate(cmd.Context(), c, next, cl.stdout, cl.stderr)
		},
	}
	rotate.Flags().StringVar(&next, "new-master-key-file", "", "file holding the new master key (64 hex digits or base64 of 32 bytes)")
	addFlags(rotate, fs)
	completeServerFlags(rotate)
	return newGroupCommand("keys", groupServer, "manage the master key", rotate)
}

// keysRotate runs `keyledger keys rotate --new-master-key-file F`: every
// organization's data key is wrapped again under the new master key.
func keysRotate(ctx context.Context, c *config, next string, stdout, stderr io.Writer) error {
	if err := c.finish(); err != nil {
		return err
	}
	if next == "" {
		return errors.New("--new-master-key-file is required")
	}
	b, err := os.ReadFile(next)
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
