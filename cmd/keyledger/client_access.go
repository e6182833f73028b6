package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyledger/keyledger/httpapi/client"
	"github.com/spf13/cobra"
)

const accessUsage = "usage: keyledger access --org O --secret NAME [--at T]"

// newAccessCommand is `keyledger access`: the access review of one secret.
func newAccessCommand(cl cli) *cobra.Command {
	var f clientFlags
	var secret, at string
	cmd := &cobra.Command{
		Use:   "access --org O --secret NAME [--at T]",
		Short: "who can reveal, modify, delete or fetch a secret (now, or at an instant)",
		Long: `Print who could do what to one secret: every member and platform super-admin with
their role, every service token with its environments, and what each could do
(reveal, modify, delete, fetch). The server computes it from the log, as the
organization's membership, tokens and the secret were at --at (RFC 3339, default now);
NAME is looked up in the secrets as they were then, so a deleted secret's past can be
reviewed. Personal access tokens act as their user and are not listed. Owners and admins
only.`,
		GroupID: groupClient,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return errors.New(accessUsage)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cl.access(cmd.Context(), f, secret, at)
		},
	}
	f.addServerFlag(cmd)
	f.addOrgFlag(cmd, cl)
	cmd.Flags().StringVar(&secret, "secret", "", "the secret's name (required)")
	cmd.Flags().StringVar(&at, "at", "", "the instant to review, RFC 3339 (default now)")
	return cmd
}

// access prints the review of one secret as a table.
func (cl cli) access(ctx context.Context, f clientFlags, secret, rawAt string) error {
	if strings.TrimSpace(secret) == "" {
		return errors.New("--secret is required (" + accessUsage + ")")
	}
	name, err := parseSecretName(secret)
	if err != nil {
		return err
	}
	var at time.Time
	if rawAt != "" {
		t, err := time.Parse(time.RFC3339, rawAt)
		if err != nil {
			return fmt.Errorf("--at %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", rawAt)
		}
		if t.After(time.Now()) {
			return errors.New("--at must not be in the future: the log says who had access, not who will")
		}
		at = t
	}
	ctx, cancel := context.WithTimeout(ctx, defaultCallTimeout)
	defer cancel()
	c, orgID, err := cl.connectOrg(ctx, f.server, f.org)
	if err != nil {
		return err
	}
	id, err := secretIDAt(ctx, c, orgID, name, at)
	if err != nil {
		return err
	}
	review, err := c.AccessReview(ctx, orgID, id, at)
	if err != nil {
		return err
	}
	return printAccess(cl.stdout, review)
}

// secretIDAt finds the id of the secret named name as the grid was at at (zero: now).
func secretIDAt(ctx context.Context, c *client.Client, orgID, name string, at time.Time) (string, error) {
	for sec, err := range c.AllSecrets(ctx, orgID, client.SecretFilter{Q: name, Limit: 1000, AsOf: at}) {
		if err != nil {
			return "", err
		}
		if sec.Name == name {
			return sec.ID, nil
		}
	}
	if at.IsZero() {
		return "", fmt.Errorf("no secret named %s in this organization", name)
	}
	return "", fmt.Errorf("no secret named %s in this organization at %s", name, at.UTC().Format(time.RFC3339))
}

// printAccess prints a review: a line naming the secret and instant, then one row per
// subject.
func printAccess(w io.Writer, r client.AccessReview) error {
	if _, err := fmt.Fprintf(w, "%s (%s) at %s\n", r.SecretName, r.SecretID, r.At.UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	t := newTable(w, "KIND", "SUBJECT", "ROLE", "SCOPE", "CAN")
	for _, s := range r.Subjects {
		who, role, scope := s.Email, s.Role, "all"
		if s.Kind == client.SubjectServiceToken {
			who, role, scope = s.Name, "-", strings.Join(s.Environments, ",")
		}
		if s.Superadmin {
			role = strings.TrimPrefix(role+"+superadmin", "+")
		}
		t.row(strings.ReplaceAll(s.Kind, "_", " "), who, dash(role), scope, dash(strings.Join(s.Can, ",")))
	}
	return t.flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
