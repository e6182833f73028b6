package projections

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// ReplayLimit says how far into the log a replay goes: up to an instant, a stream
// sequence, or both (zero values do not limit).
type ReplayLimit struct {
	Until    time.Time
	UntilSeq uint64
}

func (l ReplayLimit) includes(r domain.Recorded) bool {
	if l.UntilSeq > 0 && r.Seq > l.UntilSeq {
		return false
	}
	return l.Until.IsZero() || !r.Time.After(l.Until)
}

// errStopScan ends a scan at the replay's limit.
var errStopScan = errors.New("replay limit reached")

// ReplayedOrg is an organization's state rebuilt from the log alone.
type ReplayedOrg struct {
	Org     Org         `json:"org"`
	Members []Member    `json:"members"`
	Secrets []SecretRow `json:"secrets"`
	Seq     uint64      `json:"seq"`
	// DataKeyRotations are the rotations of the organization's data key, oldest first.
	DataKeyRotations []DataKeyRotation `json:"data_key_rotations"`
}

// DataKeyRotation is one DataKeyRotated of the log: who made which version the active
// one, and when; Automatic rotations (past the encryption limit) have no actor.
type DataKeyRotation struct {
	Version   int       `json:"version"`
	At        time.Time `json:"at"`
	ActorID   string    `json:"actor_id"`
	Automatic bool      `json:"automatic"`
}

// selectiveScanner is a log that can pass over the events a scan does not need without
// opening them (*eventstore.Store is one). A replay needs an organization's own events
// and its secrets', not its reveals and other access records, which are most of a
// real log: opening them (decryption, decoding and their garbage) was most of what a
// replay cost on the log's side.
type selectiveScanner interface {
	ScanScopeWith(ctx context.Context, scope string, o eventstore.ScanOptions, fn func(domain.Recorded) error) error
}

// scanOpening scans a scope of log, opening the events of the aggregate types open
// names; the others are passed to fn with a nil Event, or opened too when log cannot
// tell them apart unopened.
func scanOpening(ctx context.Context, log ScopeLoader, scope string, until uint64, open func(aggregateType string) bool, fn func(domain.Recorded) error) error {
	if sel, ok := log.(selectiveScanner); ok {
		return sel.ScanScopeWith(ctx, scope, eventstore.ScanOptions{Until: until, Open: open}, fn)
	}
	return log.ScanScope(ctx, scope, until, fn)
}

// userEvents and orgEvents are the aggregate types whose events a replay opens, in the
// platform's scope and in the organization's.
func userEvents(aggType string) bool { return aggType == domain.AggregateUser }

func orgEvents(aggType string) bool {
	return aggType == domain.AggregateOrganization || aggType == domain.AggregateSecret
}

// ReplayOrg rebuilds an organization's grid, members and settings as they were at
// limit, from the log alone: no read model is consulted, so it also serves offline
// tooling and checks the read models against the source of truth.
func ReplayOrg(ctx context.Context, log ScopeLoader, orgID string, limit ReplayLimit) (ReplayedOrg, error) {
	if !isUUID(orgID) {
		return ReplayedOrg{}, notFound("organization")
	}
	people := map[string]*domain.User{}
	err := scanOpening(ctx, log, domain.PlatformScope, limit.UntilSeq, userEvents, func(r domain.Recorded) error {
		if r.AggregateType != domain.AggregateUser || !limit.includes(r) {
			return nil
		}
		u := people[r.AggregateID]
		if u == nil {
			u = domain.NewUser(r.AggregateID)
			people[r.AggregateID] = u
		}
		u.Apply(r)
		return nil
	})
	if err != nil {
		return ReplayedOrg{}, err
	}
	org := domain.NewOrganization(orgID)
	secrets := map[string]*domain.Secret{}
	var order []string
	out := ReplayedOrg{DataKeyRotations: []DataKeyRotation{}}
	memberSince := map[string]time.Time{}
	err = scanOpening(ctx, log, orgID, limit.UntilSeq, orgEvents, func(r domain.Recorded) error {
		if !limit.includes(r) {
			return errStopScan
		}
		out.Seq = r.Seq
		switch r.AggregateType {
		case domain.AggregateOrganization:
			org.Apply(r)
			switch e := r.Event.(type) {
			case domain.OrganizationCreated:
				memberSince[e.OwnerID] = r.Time
			case domain.MemberAdded:
				memberSince[e.UserID] = r.Time
			case domain.DataKeyRotated:
				out.DataKeyRotations = append(out.DataKeyRotations, DataKeyRotation{Version: e.Version, At: r.Time, ActorID: r.Actor.UserID, Automatic: e.Automatic})
			}
		case domain.AggregateSecret:
			s := secrets[r.AggregateID]
			if s == nil {
				s = domain.NewSecret(orgID, r.AggregateID)
				secrets[r.AggregateID] = s
				order = append(order, r.AggregateID)
			}
			s.Apply(r)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return ReplayedOrg{}, err
	}
	if !org.Exists() {
		return ReplayedOrg{}, notFound("organization")
	}
	out.Org = Org{ID: orgID, Name: org.Name(), RevealPolicy: org.RevealPolicy(), CreatedAt: org.CreatedAt()}
	out.Members = []Member{}
	for id, since := range memberSince {
		if role := org.Role(id); role != "" {
			m := Member{UserID: id, Role: role, AddedAt: since}
			if u := people[id]; u != nil {
				m.Email, m.Name = u.Email(), u.Name()
			}
			out.Members = append(out.Members, m)
		}
	}
	sort.Slice(out.Members, func(i, j int) bool { return out.Members[i].Email < out.Members[j].Email })
	out.Secrets = []SecretRow{}
	for _, id := range order {
		s := secrets[id]
		if !s.Exists() {
			continue
		}
		out.Secrets = append(out.Secrets, SecretRowOf(s, people[s.OwnerID()]))
	}
	sort.Slice(out.Secrets, func(i, j int) bool { return out.Secrets[i].Name < out.Secrets[j].Name })
	return out, nil
}

// SecretRowOf is the grid row of a secret aggregate: what the projector would write
// for it. The API answers a command from it when the read models lag.
func SecretRowOf(s *domain.Secret, owner *domain.User) SecretRow {
	row := SecretRow{
		ID: s.ID(), OrgID: s.OrgID(), Name: string(s.Name()), Description: s.Description(),
		Owner: UserRef{ID: s.OwnerID()}, CreatedAt: s.CreatedAt(), UpdatedAt: s.UpdatedAt(), Version: s.Version(),
		Environments: map[domain.Environment]EnvState{},
	}
	if owner != nil {
		row.Owner.Email, row.Owner.Name = owner.Email(), owner.Name()
	}
	for _, env := range domain.Environments() {
		at := s.ValueUpdatedAt(env)
		if at.IsZero() {
			continue
		}
		st := EnvState{Version: s.NextValueVersion(env) - 1, UpdatedAt: at}
		if v, ok := s.Value(env); ok {
			st = EnvState{Set: true, Version: v.Version, Mask: domain.ReplaceControls(v.Mask), UpdatedAt: at}
		}
		row.Environments[env] = st
	}
	return row
}

// SecretsAsOf is the grid as it was at instant t, rebuilt from the log (not from the
// current read model), filtered and paged like ListSecrets.
func SecretsAsOf(ctx context.Context, log ScopeLoader, orgID string, t time.Time, f SecretFilter) ([]SecretRow, string, error) {
	state, err := ReplayOrg(ctx, log, orgID, ReplayLimit{Until: t})
	if err != nil {
		return nil, "", err
	}
	return pageSecrets(state.Secrets, f)
}

// pageSecrets applies a filter, the name order and the page limit to grid rows.
func pageSecrets(rows []SecretRow, f SecretFilter) ([]SecretRow, string, error) {
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return nil, "", domain.Invalid("limit", "must be between 1 and 1000")
	}
	after := ""
	if f.Cursor != "" {
		var err error
		if after, err = decodeCursor(f.Cursor); err != nil {
			return nil, "", err
		}
	}
	q := strings.ToUpper(f.Q)
	kept := make([]SecretRow, 0, len(rows))
	for _, r := range rows {
		if f.Env != "" && !r.Environments[f.Env].Set {
			continue
		}
		if (q != "" && !strings.Contains(r.Name, q)) || (after != "" && r.Name <= after) {
			continue
		}
		kept = append(kept, r)
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Name < kept[j].Name })
	next := ""
	if len(kept) > limit {
		kept = kept[:limit]
		next = encodeCursor(kept[limit-1].Name)
	}
	return kept, next, nil
}
