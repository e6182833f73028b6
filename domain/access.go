package domain

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Kinds of subject an access review lists.
const (
	SubjectUser         = "user"
	SubjectServiceToken = "service_token"
)

// AccessSubject is one user or service token that could act on a secret at an
// instant, and what it could do. Personal access tokens are not subjects of their own:
// they act as their user, with the user's role, so the user's entry covers them.
type AccessSubject struct {
	Kind  string
	ID    string
	Email string // users only
	Name  string
	// Role is the user's role in the organization; empty for a platform super-admin
	// who is not a member, and for service tokens.
	Role Role
	// Superadmin marks a platform super-admin, who acts in every organization.
	Superadmin bool
	// Environments is a service token's scope; ExpiresAt its expiry, if it has one.
	Environments []Environment
	ExpiresAt    *time.Time
	// Can lists what the subject could do to the secret: reveal, modify, delete, fetch
	// (in that order).
	Can []Action
}

// AccessReview folds an organization's history (its membership and reveal policy), its
// service tokens, one of its secrets and the platform's users, as they were at an
// instant, and answers who could do what to that secret then. Every answer comes from
// the same rules the commands use: Authorize for members and super-admins, a service
// token's Usable (what authenticates it) and AuthorizeServiceTokenFetch for integrations.
type AccessReview struct {
	orgID    string
	secretID string
	at       time.Time
	org      *Organization
	secret   *Secret
	tokens   map[string]*ServiceToken
	users    map[string]*User
}

// NewAccessReview starts an empty review of secretID in orgID at instant at.
func NewAccessReview(orgID, secretID string, at time.Time) *AccessReview {
	return &AccessReview{
		orgID: orgID, secretID: secretID, at: at,
		org: NewOrganization(orgID), secret: NewSecret(orgID, secretID),
		tokens: map[string]*ServiceToken{}, users: map[string]*User{},
	}
}

// At is the instant the review describes.
func (a *AccessReview) At() time.Time { return a.at }

// Apply folds one recorded event of the organization, its service tokens, the secret
// or a platform user; any other event, and any event recorded after the review's
// instant, changes nothing.
func (a *AccessReview) Apply(r Recorded) {
	if r.Time.After(a.at) {
		return
	}
	switch {
	case r.AggregateType == AggregateUser && r.OrgID == PlatformScope:
		u := a.users[r.AggregateID]
		if u == nil {
			u = NewUser(r.AggregateID)
			a.users[r.AggregateID] = u
		}
		u.Apply(r)
	case r.OrgID != a.orgID:
		return
	case r.AggregateType == AggregateOrganization && r.AggregateID == a.orgID:
		a.org.Apply(r)
	case r.AggregateType == AggregateSecret && r.AggregateID == a.secretID:
		a.secret.Apply(r)
	case r.AggregateType == AggregateServiceToken:
		t := a.tokens[r.AggregateID]
		if t == nil {
			t = NewServiceToken(a.orgID, r.AggregateID)
			a.tokens[r.AggregateID] = t
		}
		t.Apply(r)
	}
}

// SecretExisted is nil when the secret existed (created, not deleted) at the review's
// instant, else not_found: there was nothing to have access to.
func (a *AccessReview) SecretExisted() error {
	if !a.secret.Exists() {
		return Errorf(CodeNotFound, "The secret did not exist at %s.", a.at.UTC().Format(time.RFC3339))
	}
	return nil
}

// Secret is the secret as it was at the review's instant.
func (a *AccessReview) Secret() *Secret { return a.secret }

// Subjects answers the review: every member and platform super-admin (users, by email)
// and every service token usable at the instant (by name), each with what it could do
// to the secret. A secret (or organization) that did not exist at the instant is
// not_found: there was nothing to have access to.
func (a *AccessReview) Subjects() ([]AccessSubject, error) {
	if err := a.SecretExisted(); err != nil {
		return nil, err
	}
	if !a.org.Exists() {
		return nil, Errorf(CodeNotFound, "The organization did not exist at %s.", a.at.UTC().Format(time.RFC3339))
	}
	target := Target{OwnerID: a.secret.OwnerID(), RevealPolicy: a.org.RevealPolicy()}
	var users []AccessSubject
	for id, role := range a.org.members {
		users = append(users, a.userSubject(id, role, target))
	}
	for id, u := range a.users {
		if u.Exists() && u.Superadmin() && a.org.Role(id) == "" {
			users = append(users, a.userSubject(id, "", target))
		}
	}
	slices.SortFunc(users, func(x, y AccessSubject) int {
		return cmp.Or(strings.Compare(x.Email, y.Email), strings.Compare(x.ID, y.ID))
	})
	var tokens []AccessSubject
	for id, t := range a.tokens {
		if !t.Usable(a.at) {
			continue
		}
		s := AccessSubject{Kind: SubjectServiceToken, ID: id, Name: t.Name(), ExpiresAt: t.ExpiresAt(), Can: []Action{}}
		for _, env := range Environments() {
			if AuthorizeServiceTokenFetch(t.Environments(), env) == nil {
				s.Environments = append(s.Environments, env)
			}
		}
		if len(s.Environments) > 0 {
			s.Can = append(s.Can, ActionFetch)
		}
		tokens = append(tokens, s)
	}
	slices.SortFunc(tokens, func(x, y AccessSubject) int {
		return cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.ID, y.ID))
	})
	return append(users, tokens...), nil
}

// userSubject is a user's entry: what Authorize lets the user do to the target.
func (a *AccessReview) userSubject(id string, role Role, t Target) AccessSubject {
	s := AccessSubject{Kind: SubjectUser, ID: id, Role: role, Can: []Action{}}
	if u := a.users[id]; u != nil && u.Exists() {
		s.Email, s.Name, s.Superadmin = u.Email(), u.Name(), u.Superadmin()
	}
	p := Principal{UserID: id, Role: role, Superadmin: s.Superadmin}
	for _, act := range []Action{ActionReveal, ActionModify, ActionDelete, ActionFetch} {
		if Authorize(p, act, t) == nil {
			s.Can = append(s.Can, act)
		}
	}
	return s
}
