package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/domain/jsonappend"
)

// AuditEntry is one row of the audit trail.
type AuditEntry struct {
	OrgID      string
	Seq        uint64
	Idx        int
	EventID    string
	At         time.Time
	Action     string
	Outcome    string
	ActorID    string
	ActorEmail string
	SecretID   string
	SecretName string
	Env        string
	Details    string
	// Names are the secrets a secrets.fetched entry is about.
	Names     []string
	IP        string
	UserAgent string
	PrevHash  string
	Hash      string
}

// ID is the entry's public id: the event id, with the entry's index when one event
// made several entries (one per environment) or its message held earlier audited
// events (entryIndex).
func (e AuditEntry) ID() string {
	if e.Idx == 0 {
		return e.EventID
	}
	return e.EventID + "." + strconv.Itoa(e.Idx)
}

// entryIndex numbers the audit entries of one log message: a message holding several
// audited events (a coalesced message of access records, one per caller) gives each
// event its own rows, the second event's entries after the first's, so that
// (seq, idx) stays unique. A message with one audited event numbers its entries from
// 0, as it always did. The projector and verification from the log both use it.
type entryIndex struct {
	seq  uint64
	next int
}

// number shifts the entries of one event of message seq past those of the message's
// earlier events.
func (x *entryIndex) number(seq uint64, entries []AuditEntry) {
	if seq != x.seq {
		x.seq, x.next = seq, 0
	}
	for i := range entries {
		entries[i].Idx += x.next
	}
	x.next += len(entries)
}

// auditResolver supplies what an entry shows beyond its event: a secret's name and a
// user's email, as of the moment the event is applied.
type auditResolver interface {
	secretName(orgID, secretID string) (string, error)
	email(userID string) (string, error)
}

// auditEntries turns one recorded event into its audit entries (none for events that
// are not audited). It is shared by the projector and by verification from the log, so
// both compute the same rows. The entries are written into into's array when it has
// room: a batch passes the last event's, which its rows have copied (a create's three,
// a few hundred bytes each, were made anew for every event, 2 % of what a create
// allocated); verification, which keeps them, passes nil.
func auditEntries(r domain.Recorded, res auditResolver, into []AuditEntry) ([]AuditEntry, error) {
	action := domain.AuditAction(r.Event)
	if action == "" || r.OrgID == domain.PlatformScope {
		return nil, nil
	}
	actorID := r.Actor.UserID
	if actorID == "" {
		actorID = r.Actor.TokenID
	}
	email, err := res.email(actorID)
	if err != nil {
		return nil, err
	}
	base := AuditEntry{
		OrgID: r.OrgID, Seq: r.Seq, EventID: r.EventID, At: r.Time.UTC().Truncate(time.Microsecond), Action: action, Outcome: domain.OutcomeSuccess,
		ActorID: actorID, ActorEmail: email, IP: r.Actor.IP, UserAgent: r.Actor.UserAgent,
	}
	secretID, envs, details := auditSubject(r)
	if d, ok := r.Event.(domain.AccessDenied); ok {
		base.Outcome = domain.OutcomeDenied
		details = string(d.Code)
	}
	switch e := r.Event.(type) {
	case domain.MemberAdded:
		details, err = memberDetails(res, e.UserID, "", e.Role)
	case domain.MemberRoleChanged:
		details, err = memberDetails(res, e.UserID, e.From, e.To)
	case domain.MemberRemoved:
		details, err = memberDetails(res, e.UserID, e.Role, "")
	}
	if err != nil {
		return nil, err
	}
	base.Details = details
	if f, ok := r.Event.(domain.SecretsFetched); ok && len(f.Names) > 0 {
		// No names (an empty environment, or more than one event lists) are stored as
		// none and read back as nil: the hash must see the same on both sides.
		base.Names = f.Names
	}
	if secretID != "" {
		base.SecretID = secretID
		if base.SecretName, err = res.secretName(r.OrgID, secretID); err != nil {
			return nil, err
		}
		if c, ok := r.Event.(domain.SecretCreated); ok {
			base.SecretName = string(c.Name)
		}
	}
	if len(envs) == 0 {
		out := slices.Grow(into[:0], 1)[:1]
		out[0] = base.storable()
		return out, nil
	}
	out := slices.Grow(into[:0], len(envs))[:len(envs)]
	for i, env := range envs {
		out[i] = base
		out[i].Idx, out[i].Env = i, string(env)
		out[i] = out[i].storable()
	}
	return out, nil
}

// storable returns the entry with its plain-text columns as Postgres holds them (see
// pgText). The projector and verification from the log both hash this form, so an
// old event with a NUL in, say, its user agent chains the same way on both sides.
// The secret name and names are sealed, not stored as text, and stay as they are.
func (e AuditEntry) storable() AuditEntry {
	for _, f := range []*string{&e.OrgID, &e.EventID, &e.Action, &e.Outcome, &e.ActorID, &e.ActorEmail,
		&e.SecretID, &e.Env, &e.Details, &e.IP, &e.UserAgent} {
		*f = pgText(*f)
	}
	return e
}

func memberDetails(res auditResolver, userID string, from, to domain.Role) (string, error) {
	email, err := res.email(userID)
	if err != nil {
		return "", err
	}
	switch {
	case from == "":
		return email + " added as " + string(to), nil
	case to == "":
		return email + " removed (was " + string(from) + ")", nil
	}
	return email + ": " + string(from) + " → " + string(to), nil
}

// auditSecretID is the secret an audited event is about, as auditSubject says, without
// building its environments and details: the projector asks it of every event of a
// batch (prefetchNames), where auditSubject's slices and strings were an allocation or
// two per event, again. TestAuditSecretIDIsAuditSubjects holds the two together.
func auditSecretID(r domain.Recorded) string {
	switch e := r.Event.(type) {
	case domain.SecretCreated, domain.SecretUpdated, domain.SecretValueDeleted, domain.SecretDeleted, domain.SecretRolledBack:
		return r.AggregateID
	case domain.SecretRevealed:
		return e.SecretID
	case domain.AccessDenied:
		return e.SecretID
	}
	return ""
}

// auditSubject says which secret and environments an event is about.
func auditSubject(r domain.Recorded) (secretID string, envs []domain.Environment, details string) {
	switch e := r.Event.(type) {
	case domain.SecretCreated:
		return r.AggregateID, sortedEnvs(keys(e.Values)), ""
	case domain.SecretUpdated:
		envs := append(keys(e.Set), e.Removed...)
		if e.Description != nil {
			details = "description changed"
		}
		return r.AggregateID, sortedEnvs(envs), details
	case domain.SecretValueDeleted:
		return r.AggregateID, []domain.Environment{e.Env}, "value removed"
	case domain.SecretDeleted:
		return r.AggregateID, nil, "secret deleted"
	case domain.SecretRolledBack:
		return r.AggregateID, []domain.Environment{e.Env}, "rolled back to version " + strconv.Itoa(e.FromVersion)
	case domain.SecretRevealed:
		return e.SecretID, []domain.Environment{e.Env}, "version " + strconv.Itoa(e.Version)
	case domain.AccessDenied:
		if e.Env != "" {
			return e.SecretID, []domain.Environment{e.Env}, ""
		}
		return e.SecretID, nil, ""
	case domain.SecretsFetched:
		details = strconv.Itoa(e.Fetched()) + " secrets"
		if e.NamesSHA256 != "" {
			// Too many to list in one event: the entry says so, and carries the digest
			// of the names (in the hashed chain, like every detail).
			details += "; names not listed (too many for one event), SHA-256 of the sorted names: " + e.NamesSHA256
		}
		return "", []domain.Environment{e.Env}, details
	case domain.OrganizationUpdated:
		if e.RevealPolicy != nil {
			details = "reveal_policy " + string(*e.RevealPolicy)
		}
		if e.Name != nil {
			details += " renamed"
		}
		return "", nil, details
	}
	return "", nil, ""
}

func keys[V any](m map[domain.Environment]V) []domain.Environment {
	out := make([]domain.Environment, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortedEnvs(envs []domain.Environment) []domain.Environment {
	order := map[domain.Environment]int{domain.Development: 0, domain.Staging: 1, domain.Production: 2}
	sort.Slice(envs, func(i, j int) bool { return order[envs[i]] < order[envs[j]] })
	return envs
}

// chainHash is an entry's link in its organization's chain: the hash of the previous
// link and of the entry's content. The secret's name is left out (it is sealed at rest;
// verification compares it with the log separately).
//
// The content is the JSON array encoding/json writes for the entry's fields (every
// stored chain was hashed that way, so the bytes must not change); chainContent
// writes it directly, which a rebuild does once per audit entry.
//
// The previous link, a newline and the content are hashed as one buffer, on the
// stack for most entries: a hash.Hash, the time's string and the hex string were
// three allocations per entry of a rebuild; the link's string is now the only one.
func chainHash(prev string, e AuditEntry) string {
	var buf [640]byte
	b := append(append(buf[:0], prev...), '\n')
	b = chainContent(b, e)
	sum := sha256.Sum256(b)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// chainContent appends to dst what json.Marshal makes of
//
//	[]any{OrgID, Seq, Idx, EventID, At (UTC, RFC 3339 with nanoseconds), Action,
//	Outcome, ActorID, ActorEmail, SecretID, Env, Details, IP, UserAgent, Names}
//
// byte for byte (TestChainContentMatchesEncodingJSON).
func chainContent(dst []byte, e AuditEntry) []byte {
	dst = append(dst, '[')
	dst = jsonappend.String(dst, e.OrgID)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(e.Idx), 10)
	dst = append(dst, ',')
	dst = jsonappend.String(dst, e.EventID)
	// The time as RFC 3339 writes it: digits, '-', ':', '.', 'T', 'Z' and '+', none
	// of which encoding/json escapes, so it is quoted as it is.
	dst = append(dst, ',', '"')
	dst = e.At.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	for _, f := range [...]string{e.Action, e.Outcome,
		e.ActorID, e.ActorEmail, e.SecretID, e.Env, e.Details, e.IP, e.UserAgent} {
		dst = append(dst, ',')
		dst = jsonappend.String(dst, f)
	}
	dst = append(dst, ',')
	if e.Names == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, n := range e.Names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonappend.String(dst, n)
		}
		dst = append(dst, ']')
	}
	return append(dst, ']')
}
