package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/spf13/cobra"
)

// newKeysCommand is `keyledger keys`.
func newKeysCommand(cl cli) *cobra.Command {
	fs, c := logOnlyFlags("keys rotate", cl.stderr, cl.getenv)
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
	return newGroupCommand("keys", groupServer, "manage the master key and the organizations' data keys", rotate,
		newKeysListCommand(cl), newKeysRotateDataCommand(cl))
}

// newKeysListCommand is `keyledger keys list --org O`, a client command.
func newKeysListCommand(cl cli) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list --org O",
		Short: "list an organization's data-key versions (over HTTP; owner or admin)",
		Long: `List the organization's data-key versions with their state: active (new data is
sealed with it), retired (it still opens what it sealed) or destroyed. Talks to the
server over HTTP, like the client commands.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cl.keysList(cmd.Context(), f)
		},
	}
	f.addServerFlag(cmd)
	f.addOrgFlag(cmd, cl)
	return cmd
}

// newKeysRotateDataCommand is `keyledger keys rotate-data --org O`, a client command.
func newKeysRotateDataCommand(cl cli) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "rotate-data --org O",
		Short: "rotate an organization's data key (over HTTP; owner or admin)",
		Long: `Add a new version of the organization's data key and make it the active one: new
events and values are sealed with it, and everything sealed before still opens. The
rotation is recorded in the log. (keys rotate, by contrast, changes the master key.)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cl.keysRotateData(cmd.Context(), f)
		},
	}
	f.addServerFlag(cmd)
	f.addOrgFlag(cmd, cl)
	return cmd
}

func (cl cli) keysList(ctx context.Context, f clientFlags) error {
	ctx, cancel := context.WithTimeout(ctx, defaultCallTimeout)
	defer cancel()
	c, org, err := cl.connectOrg(ctx, f.server, f.org)
	if err != nil {
		return err
	}
	keys, err := c.ListDataKeys(ctx, org)
	if err != nil {
		return err
	}
	tw := newTable(cl.stdout, "VERSION", "STATE", "CREATED")
	for _, k := range keys {
		tw.row(strconv.Itoa(k.Version), k.State, k.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.flush()
}

func (cl cli) keysRotateData(ctx context.Context, f clientFlags) error {
	ctx, cancel := context.WithTimeout(ctx, defaultCallTimeout)
	defer cancel()
	c, org, err := cl.connectOrg(ctx, f.server, f.org)
	if err != nil {
		return err
	}
	v, err := c.RotateDataKey(ctx, org, client.IdempotencyKey(uuid.NewString()))
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "rotated the data key: new data is sealed with version %d; older versions still open what they sealed\n", v)
	return nil
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
