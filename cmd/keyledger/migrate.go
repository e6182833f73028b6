package main

import (
	"context"
	"fmt"
	"io"

	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/projections"
)

// migrate applies the read-model migrations. Open applies them; serve does too, so this
// is for deployments that migrate before rolling out replicas.
func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, c := serverFlags("migrate", stderr, getenv)
	if err := fs.Parse(args); err != nil {
		return err
	}
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
