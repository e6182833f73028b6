package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/keyledger/keyledger/eventstore"
)

// erasedOrg is what replay and audit verify print for an organization that was erased:
// its events stay in the log, but its keys are destroyed, so there is nothing to
// rebuild or verify, only the fact and where in the log it happened.
type erasedOrg struct {
	Erased bool      `json:"erased"`
	OrgID  string    `json:"org_id"`
	Seq    uint64    `json:"erased_at_seq"`
	At     time.Time `json:"erased_at"`
	By     string    `json:"erased_by,omitempty"`
	Detail string    `json:"detail"`
}

// erasureLookup is what reportErasure asks of the log.
type erasureLookup interface {
	ErasureOf(ctx context.Context, orgID string) (eventstore.Erasure, bool, error)
}

// reportErasure prints the organization's erasure, as JSON on stdout and one sentence on
// stderr, and reports whether it was erased.
func reportErasure(ctx context.Context, log erasureLookup, orgID string, stdout, stderr io.Writer) (bool, error) {
	er, erased, err := log.ErasureOf(ctx, orgID)
	if err != nil || !erased {
		return false, err
	}
	detail := fmt.Sprintf("organization %s was erased (crypto-shredded) at sequence %d on %s: its events stay in the log and can no longer be opened",
		orgID, er.Seq, er.Time.UTC().Format(time.RFC3339))
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(erasedOrg{Erased: true, OrgID: orgID, Seq: er.Seq, At: er.Time.UTC(), By: er.Actor.UserID, Detail: detail}); err != nil {
		return true, err
	}
	fmt.Fprintln(stderr, detail)
	return true, nil
}
