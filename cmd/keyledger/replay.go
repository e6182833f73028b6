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
)

// replay prints an organization's state at an instant or sequence, rebuilt from the log
// alone (no database), as JSON in the API's row shape.
func replay(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, c := serverFlags("replay", stderr, getenv)
	org := fs.String("org", "", "organization id")
	until := fs.String("until", "", "an RFC 3339 instant: the state as it was then")
	untilSeq := fs.Uint64("until-seq", 0, "a stream sequence: the state after it")
	format := fs.String("format", "json", "output format (json)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.finish(); err != nil {
		return err
	}
	if *org == "" {
		return errors.New("--org is required")
	}
	if *format != "json" {
		return fmt.Errorf("unknown format %q (json)", *format)
	}
	limit := projections.ReplayLimit{UntilSeq: *untilSeq}
	if *until != "" {
		t, err := time.Parse(time.RFC3339Nano, *until)
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
	state, err := projections.ReplayOrg(ctx, p.store, *org, limit)
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
	}
}
