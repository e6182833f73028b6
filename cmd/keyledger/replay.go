package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keyledger/keyledger/httpapi"
	"github.com/keyledger/keyledger/projections"
	"github.com/spf13/cobra"
)

// replayOptions are replay's flags besides the server's.
type replayOptions struct {
	org, until, format string
	untilSeq           uint64
}

// newReplayCommand is `keyledger replay`.
func newReplayCommand(cl cli) *cobra.Command {
	fs, c := logOnlyFlags("replay", cl.stderr, cl.getenv)
	var o replayOptions
	cmd := &cobra.Command{
		Use:   "replay --org ID [--until T | --until-seq N] [--format json]",
		Short: "print an org's state at an instant, from the log alone",
		Long: `Print an organization's secrets, members and settings as they were at an instant
or a stream sequence, rebuilt from the event log alone (no database), as JSON in the
API's row shape. Values are never printed.`,
		GroupID: groupServer,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return replay(cmd.Context(), c, o, cl.stdout, cl.stderr)
		},
	}
	cmd.Flags().StringVar(&o.org, "org", "", "organization id")
	cmd.Flags().StringVar(&o.until, "until", "", "an RFC 3339 instant: the state as it was then")
	cmd.Flags().Uint64Var(&o.untilSeq, "until-seq", 0, "a stream sequence: the state after it")
	cmd.Flags().StringVar(&o.format, "format", "json", "output format (json)")
	completeWith(cmd, "format", "json")
	addFlags(cmd, fs)
	completeServerFlags(cmd)
	return cmd
}

// replay prints an organization's state at an instant or sequence, rebuilt from the log
// alone (no database), as JSON in the API's row shape.
func replay(ctx context.Context, c *config, o replayOptions, stdout, stderr io.Writer) error {
	if err := c.finish(); err != nil {
		return err
	}
	if o.org == "" {
		return errors.New("--org is required")
	}
	if o.format != "json" {
		return fmt.Errorf("unknown format %q (json)", o.format)
	}
	limit := projections.ReplayLimit{UntilSeq: o.untilSeq}
	if o.until != "" {
		t, err := time.Parse(time.RFC3339Nano, o.until)
		if err != nil {
			return fmt.Errorf("--until: %w", err)
		}
		limit.Until = t
	}
	p, err := openLog(ctx, c, newLogger(c.LogLevel, stderr))
	if err != nil {
		return err
	}
	defer p.close()
	if erased, err := reportErasure(ctx, p.store, o.org, stdout, stderr); erased || err != nil {
		return err
	}
	state, err := projections.ReplayOrg(ctx, p.store, o.org, limit)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(replayJSON(state))
}

// replayJSON renders replayed state; secrets in the API's row shape (no sealed values).
func replayJSON(s projections.ReplayedOrg) map[string]any {
	secrets := make([]httpapi.SecretView, 0, len(s.Secrets))
	for _, r := range s.Secrets {
		secrets = append(secrets, httpapi.SecretViewOf(r))
	}
	members := make([]map[string]any, 0, len(s.Members))
	for _, m := range s.Members {
		members = append(members, map[string]any{"user_id": m.UserID, "email": m.Email, "name": m.Name, "role": m.Role, "added_at": m.AddedAt})
	}
	return map[string]any{
		"seq":     s.Seq,
		"org":     map[string]any{"id": s.Org.ID, "name": s.Org.Name, "reveal_policy": s.Org.RevealPolicy, "created_at": s.Org.CreatedAt},
		"members": members, "secrets": secrets,
		"data_key_rotations": s.DataKeyRotations,
	}
}
