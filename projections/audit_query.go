package projections

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyledger/keyledger/domain"
)

// AuditTrail answers an organization's audit trail (a page, a stream for the CSV
// export) and verifies its hash chain against the log.
type AuditTrail struct {
	*store
}

// AuditFilter narrows the audit trail. Zero fields do not filter.
type AuditFilter struct {
	// Actor is a user or token id, or an email.
	Actor    string
	Action   string
	SecretID string
	Env      domain.Environment
	From     time.Time
	To       time.Time
	Limit    int
	Cursor   string
}

// AuditActions lists every action the trail records.
func AuditActions() []string {
	return []string{
		domain.AuditSecretCreated, domain.AuditSecretUpdated, domain.AuditSecretDeleted, domain.AuditSecretRevealed,
		domain.AuditSecretRolledBack, domain.AuditSecretsFetched, domain.AuditMemberAdded, domain.AuditMemberRoleChanged,
		domain.AuditMemberRemoved, domain.AuditOrgUpdated, domain.AuditTokenCreated, domain.AuditTokenRevoked,
	}
}

// Check reports what where would refuse in f (an action that is not one, a secret id
// that is not a UUID), so that a streamed answer can refuse before it starts.
func (f AuditFilter) Check() error {
	_, _, err := f.where("")
	return err
}

func (f AuditFilter) where(orgID string) (string, []any, error) {
	conds := []string{"org_id = $1"}
	args := []any{orgID}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Actor != "" {
		if strings.Contains(f.Actor, "@") {
			add("actor_email = ?", strings.ToLower(strings.TrimSpace(f.Actor)))
		} else {
			add("actor_id = ?", f.Actor)
		}
	}
	if f.Action != "" {
		if !slices.Contains(AuditActions(), f.Action) {
			return "", nil, domain.Invalid("action", "is not an audit action")
		}
		add("action = ?", f.Action)
	}
	if f.SecretID != "" {
		if !isUUID(f.SecretID) {
			return "", nil, domain.Invalid("secret_id", "must be a UUID")
		}
		add("secret_id = ?", f.SecretID)
	}
	if f.Env != "" {
		add("env = ?", string(f.Env))
	}
	if !f.From.IsZero() {
		add("at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("at <= ?", f.To)
	}
	if f.Cursor != "" {
		seq, idx, err := decodeAuditCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		args = append(args, seq, idx)
		conds = append(conds, fmt.Sprintf("(seq, idx) < ($%d, $%d)", len(args)-1, len(args)))
	}
	return strings.Join(conds, " AND "), args, nil
}

func encodeAuditCursor(e AuditEntry) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(e.Seq, 10) + "." + strconv.Itoa(e.Idx)))
}

// decodeAuditCursor reads "seq.idx" of the last entry of the page before. Sequences
// and indexes are never negative, and a number written with a sign or leading zeros
// was not written by encodeAuditCursor.
func decodeAuditCursor(c string) (int64, int, error) {
	bad := domain.Invalid("cursor", "is not a cursor this server returned")
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil {
		return 0, 0, bad
	}
	s, i, ok := strings.Cut(string(b), ".")
	seq, err1 := strconv.ParseInt(s, 10, 64)
	idx, err2 := strconv.Atoi(i)
	if !ok || err1 != nil || err2 != nil || seq < 0 || idx < 0 ||
		strconv.FormatInt(seq, 10) != s || strconv.Itoa(idx) != i {
		return 0, 0, bad
	}
	return seq, idx, nil
}

const auditColumns = `seq, idx, event_id, at, action, outcome, actor_id, actor_email, COALESCE(secret_id::text, ''),
	COALESCE(secret_name_sealed, ''), COALESCE(env, ''), details, ip, user_agent, prev_hash, hash, COALESCE(names_sealed, '')`

func (db *AuditTrail) scanAudit(ctx context.Context, orgID string, rows pgx.Rows) (AuditEntry, error) {
	e := AuditEntry{OrgID: orgID}
	var seq int64
	var nameSealed, namesSealed string
	if err := rows.Scan(&seq, &e.Idx, &e.EventID, &e.At, &e.Action, &e.Outcome, &e.ActorID, &e.ActorEmail, &e.SecretID,
		&nameSealed, &e.Env, &e.Details, &e.IP, &e.UserAgent, &e.PrevHash, &e.Hash, &namesSealed); err != nil {
		return AuditEntry{}, err
	}
	if namesSealed != "" {
		b, err := db.keys.Open(ctx, orgID, namesSealed, namesAAD(e))
		if err != nil {
			return AuditEntry{}, fmt.Errorf("open fetched names: %w", err)
		}
		if err := json.Unmarshal(b, &e.Names); err != nil {
			return AuditEntry{}, fmt.Errorf("fetched names: %w", err)
		}
	}
	e.Seq = uint64(seq)
	e.At = e.At.UTC()
	if nameSealed != "" {
		name, err := db.keys.Open(ctx, orgID, nameSealed, nameAAD(orgID, e.SecretID))
		if err != nil {
			return AuditEntry{}, fmt.Errorf("open audit secret name: %w", err)
		}
		e.SecretName = string(name)
	}
	return e, nil
}

// ListAudit returns a page of the audit trail, newest first.
func (db *AuditTrail) ListAudit(ctx context.Context, orgID string, f AuditFilter) ([]AuditEntry, string, error) {
	if !isUUID(orgID) {
		return nil, "", notFound("organization")
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return nil, "", domain.Invalid("limit", "must be between 1 and 1000")
	}
	where, args, err := f.where(orgID)
	if err != nil {
		return nil, "", err
	}
	out := []AuditEntry{}
	err = db.inOrg(ctx, orgID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE `+where+
			` ORDER BY seq DESC, idx DESC LIMIT `+strconv.Itoa(limit+1), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := db.scanAudit(ctx, orgID, rows)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeAuditCursor(out[limit-1])
	}
	return out, next, nil
}

// StreamAudit calls fn for every entry of the filtered trail, newest first, reading
// rows as Postgres sends them: memory stays constant however long the trail is.
func (db *AuditTrail) StreamAudit(ctx context.Context, orgID string, f AuditFilter, fn func(AuditEntry) error) error {
	if !isUUID(orgID) {
		return notFound("organization")
	}
	f.Cursor = ""
	where, args, err := f.where(orgID)
	if err != nil {
		return err
	}
	return db.longRead(ctx, orgID, false, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE `+where+` ORDER BY seq DESC, idx DESC`, args...)
		if err != nil {
			return fmt.Errorf("stream audit: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := db.scanAudit(ctx, orgID, rows)
			if err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}
