package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// ScopeLoader reads one scope's events from the log; *eventstore.Store is one.
type ScopeLoader interface {
	ScanScope(ctx context.Context, scope string, until uint64, fn func(domain.Recorded) error) error
}

// AuditVerification is the result of checking an organization's audit chain. Its JSON
// shape is wire.AuditVerification's, which the API and the CLI print.
type AuditVerification struct {
	OK      bool
	Checked int
	Head    string
	// BrokenSeq and BrokenID name the first entry that does not check out, and Reason
	// says why; empty when OK.
	BrokenSeq uint64
	BrokenID  string
	Reason    string
}

// logResolver resolves names and emails from the log itself, as they were when each
// event was appended.
type logResolver struct {
	emails map[string]string
	names  map[string]string
}

func (r logResolver) secretName(_, secretID string) (string, error) { return r.names[secretID], nil }
func (r logResolver) email(userID string) (string, error)           { return r.emails[userID], nil }

// VerifyAudit recomputes an organization's audit entries and their hash chain from the
// log and compares them, link by link, with the stored trail. It reports the first
// entry that was edited, removed or added behind the projector's back.
func (db *AuditTrail) VerifyAudit(ctx context.Context, orgID string, log ScopeLoader) (AuditVerification, error) {
	until, err := db.checkpoint(ctx)
	if err != nil {
		return AuditVerification{}, err
	}
	expected, err := expectedAudit(ctx, log, orgID, until)
	if err != nil {
		return AuditVerification{}, err
	}
	res := AuditVerification{OK: true}
	prev := ""
	i := 0
	err = db.longRead(ctx, orgID, false, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE org_id = $1 AND seq <= $2 ORDER BY seq, idx`, orgID, int64(until))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s, err := db.scanAudit(ctx, orgID, rows)
			if err != nil {
				return err
			}
			if reason := checkLink(s, prev, expected, i); reason != "" {
				res = AuditVerification{Checked: i, Head: prev, BrokenSeq: s.Seq, BrokenID: s.ID(), Reason: reason}
				return nil
			}
			prev = s.Hash
			i++
		}
		return rows.Err()
	})
	if err != nil {
		return AuditVerification{}, fmt.Errorf("verify audit: %w", err)
	}
	if !res.OK && res.Reason != "" {
		return res, nil
	}
	if i < len(expected) {
		e := expected[i]
		return AuditVerification{Checked: i, Head: prev, BrokenSeq: e.Seq, BrokenID: e.ID(), Reason: "entry missing from the trail"}, nil
	}
	return AuditVerification{OK: true, Checked: i, Head: prev}, nil
}

func checkLink(s AuditEntry, prev string, expected []AuditEntry, i int) string {
	if i >= len(expected) {
		return "entry not in the log"
	}
	e := expected[i]
	switch {
	case s.PrevHash != prev:
		return "previous-hash link broken"
	case s.Hash != chainHash(prev, s):
		return "entry content does not match its hash"
	case s.Hash != chainHash(prev, e):
		return "entry differs from the log"
	case s.SecretName != e.SecretName:
		return "secret name differs from the log"
	}
	return ""
}

// expectedAudit computes, from the log alone, the entries the trail should hold.
func expectedAudit(ctx context.Context, log ScopeLoader, orgID string, until uint64) ([]AuditEntry, error) {
	res := logResolver{emails: map[string]string{}, names: map[string]string{}}
	err := log.ScanScope(ctx, domain.PlatformScope, until, func(r domain.Recorded) error {
		if u, ok := r.Event.(domain.UserRegistered); ok {
			res.emails[r.AggregateID] = u.Email
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []AuditEntry
	prev := ""
	var idx entryIndex
	err = log.ScanScope(ctx, orgID, until, func(r domain.Recorded) error {
		if c, ok := r.Event.(domain.SecretCreated); ok {
			res.names[r.AggregateID] = string(c.Name)
		}
		entries, err := auditEntries(r, res, nil)
		if err != nil {
			return err
		}
		idx.number(r.Seq, entries)
		for _, e := range entries {
			e.PrevHash = prev
			e.Hash = chainHash(prev, e)
			prev = e.Hash
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
