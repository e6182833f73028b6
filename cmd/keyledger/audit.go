package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// auditCmd runs `keyledger audit verify --org ID`: recompute the org's audit hash chain
// from the log and compare it with the stored trail.
func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: keyledger audit verify --org ID")
	}
	fs, c := serverFlags("audit verify", stderr, getenv)
	org := fs.String("org", "", "organization id")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	if *org == "" {
		return errors.New("--org is required")
	}
	p, err := openPlatform(ctx, c, newLogger(c.LogLevel, stderr))
	if err != nil {
		return err
	}
	defer p.close()
	res, err := p.db.VerifyAudit(ctx, *org, p.store)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("audit chain broken at seq %d (%s): %s", res.BrokenSeq, res.BrokenID, res.Reason)
	}
	return nil
}

// projectionsCmd runs `keyledger projections rebuild`.
func projectionsCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "rebuild" {
		return errors.New("usage: keyledger projections rebuild")
	}
	fs, c := serverFlags("projections rebuild", stderr, getenv)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	logger := newLogger(c.LogLevel, stderr)
	p, err := openPlatform(ctx, c, logger)
	if err != nil {
		return err
	}
	defer p.close()
	rep, err := p.db.Rebuild(ctx, p.store, p.store, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt %d events into %s in %s (%.0f events/s)\n", rep.Events, rep.Schema, rep.Duration.Round(1e6), rep.EventsPerS)
	return nil
}
