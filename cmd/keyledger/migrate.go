package main

import (
	"context"
	"fmt"
	"io"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/projections"
	"github.com/spf13/cobra"
)

// newMigrateCommand is `keyledger migrate`.
func newMigrateCommand(cl cli) *cobra.Command {
	fs, c := offlineFlags("migrate", cl.stderr, cl.getenv)
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "apply the read-model migrations and exit",
		Long: `Apply the read-model migrations and exit. serve applies them too: this is for
deployments that migrate before rolling out replicas.`,
		GroupID: groupServer,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return migrate(cmd.Context(), c, cl.stdout, cl.stderr)
		},
	}
	addFlags(cmd, fs)
	completeServerFlags(cmd)
	return cmd
}

// migrate applies the read-model migrations. Open applies them; serve does too, so this
// is for deployments that migrate before rolling out replicas.
func migrate(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	if err := c.finish(); err != nil {
		return err
	}
	logger := newLogger(c.LogLevel, stderr)
	if c.DatabaseURL == "" {
		p, err := openPlatform(ctx, c, logger)
		if err != nil {
			return err
		}
		p.close()
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	}
	// Without a keyring nothing is sealed or opened: migrations only.
	db, err := projections.Open(ctx, c.DatabaseURL, (*eventstore.Keyring)(nil), logger)
	if err != nil {
		return err
	}
	db.Close()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}
