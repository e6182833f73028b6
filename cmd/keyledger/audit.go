package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/keyledger/keyledger/httpapi/wire"

	"github.com/spf13/cobra"
)

// newAuditCommand is `keyledger audit`.
func newAuditCommand(cl cli) *cobra.Command {
	fs, c := offlineFlags("audit verify", cl.stderr, cl.getenv)
	var org string
	verify := &cobra.Command{
		Use:   "verify --org ID",
		Short: "recompute the org's audit hash chain from the log",
		Long: `Recompute the organization's audit hash chain from the event log, compare it with
the stored trail, print the result as JSON and fail at the first broken link.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return auditVerify(cmd.Context(), c, org, cl.stdout, cl.stderr)
		},
	}
	verify.Flags().StringVar(&org, "org", "", "organization id")
	addFlags(verify, fs)
	completeServerFlags(verify)
	return newGroupCommand("audit", groupServer, "check the audit trail", verify)
}

// auditVerify runs `keyledger audit verify --org ID`: recompute the org's audit hash
// chain from the log and compare it with the stored trail.
func auditVerify(ctx context.Context, c *config, org string, stdout, stderr io.Writer) error {
	if err := c.finish(); err != nil {
		return err
	}
	if org == "" {
		return errors.New("--org is required")
	}
	p, err := openPlatform(ctx, c, newLogger(c.LogLevel, stderr))
	if err != nil {
		return err
	}
	defer p.close()
	if erased, err := reportErasure(ctx, p.store, org, stdout, stderr); erased || err != nil {
		return err
	}
	res, err := p.db.Audit.VerifyAudit(ctx, org, p.store)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	// The API's shape, so that the CLI and GET …/audit/verify print the same thing.
	if err := enc.Encode(wire.AuditVerification(res)); err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("audit chain broken at seq %d (%s): %s", res.BrokenSeq, res.BrokenID, res.Reason)
	}
	return nil
}

// newProjectionsCommand is `keyledger projections`.
func newProjectionsCommand(cl cli) *cobra.Command {
	fs, c := offlineFlags("projections rebuild", cl.stderr, cl.getenv)
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "rebuild every read model into a fresh schema and switch",
		Long: `Rebuild every read model from sequence 1 into a fresh schema and switch the
server to it once it has caught up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return projectionsRebuild(cmd.Context(), c, cl.stdout, cl.stderr)
		},
	}
	addFlags(rebuild, fs)
	completeServerFlags(rebuild)
	return newGroupCommand("projections", groupServer, "manage the read models", rebuild)
}

// projectionsRebuild runs `keyledger projections rebuild`.
func projectionsRebuild(ctx context.Context, c *config, stdout, stderr io.Writer) error {
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
