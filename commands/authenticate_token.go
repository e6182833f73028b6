package commands

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/keyledger/keyledger/domain"
)

// TokenIdentity is who a token speaks for. A personal token speaks for its user
// (UserID, Superadmin); a service token for an organization's integration (OrgID,
// Environments) and no user.
type TokenIdentity struct {
	TokenID string
	Service bool
	// Name is a service token's name, which GET /me shows to the integration using it.
	Name         string
	UserID       string
	Superadmin   bool
	OrgID        string
	Environments []domain.Environment
	// ExpiresAt is when the token stops authenticating (nil: never), so that a cached
	// identity expires on time.
	ExpiresAt *time.Time
}

// AuthenticateTokenHandler checks kl_st_ and kl_pat_ tokens against the log. The API
// edge keeps what it returns in a cache that a revocation invalidates on every replica
// before it is answered (httpapi/authcache), so this runs once per token and replica,
// not per request.
type AuthenticateTokenHandler struct {
	log  eventLog
	orgs aggregateLocator
	now  func() time.Time
}

// aggregateLocator finds the organization an aggregate belongs to from its type and id
// alone (*eventstore.Store's OrgOf): a service token names its own id, not its
// organization's.
type aggregateLocator interface {
	OrgOf(ctx context.Context, aggregateType, id string) (orgID string, ok bool, err error)
}

// NewAuthenticateTokenHandler wires the handler.
func NewAuthenticateTokenHandler(log eventLog, orgs aggregateLocator, now func() time.Time) *AuthenticateTokenHandler {
	return &AuthenticateTokenHandler{log: log, orgs: orgs, now: now}
}

// IdentifyServiceToken authenticates a service token without being told its
// organization, for a caller that asks who it is (GET /me): the log says which
// organization holds the token's id, and the token is then checked there as Handle
// checks it. Anything but a usable service token, including one of an erased
// organization, is unauthenticated.
func (h *AuthenticateTokenHandler) IdentifyServiceToken(ctx context.Context, token string) (TokenIdentity, error) {
	bad := domain.Errorf(domain.CodeUnauthenticated, "The token is invalid, expired or revoked.")
	prefix, id, _, ok := parseToken(token)
	if !ok || prefix != ServiceTokenPrefix {
		return TokenIdentity{}, bad
	}
	orgID, found, err := h.orgs.OrgOf(ctx, domain.AggregateServiceToken, id)
	if err != nil {
		return TokenIdentity{}, err
	}
	if !found {
		return TokenIdentity{}, bad
	}
	ti, err := h.Handle(ctx, token, orgID)
	if domain.IsCode(err, domain.CodeNotFound) {
		return TokenIdentity{}, bad
	}
	return ti, err
}

// Handle returns the token's identity, or unauthenticated for a malformed, unknown,
// revoked or expired token. orgID is the organization a service token must belong to.
func (h *AuthenticateTokenHandler) Handle(ctx context.Context, token, orgID string) (TokenIdentity, error) {
	bad := domain.Errorf(domain.CodeUnauthenticated, "The token is invalid, expired or revoked.")
	prefix, id, secret, ok := parseToken(token)
	if !ok {
		return TokenIdentity{}, bad
	}
	hash := hashTokenSecret(secret)
	if prefix == ServiceTokenPrefix {
		if validID("organization", orgID) != nil {
			return TokenIdentity{}, bad
		}
		l, err := h.log.Load(ctx, serviceTokenAggregate(orgID, id))
		if err != nil {
			// A token of an erased organization is gone with it; its routes are not_found.
			return TokenIdentity{}, notFoundIfErased(err)
		}
		t := domain.NewServiceToken(orgID, id)
		for _, r := range l.Events {
			t.Apply(r)
		}
		if !t.Usable(h.now()) || subtle.ConstantTimeCompare([]byte(t.SecretHash()), []byte(hash)) != 1 {
			return TokenIdentity{}, bad
		}
		return TokenIdentity{TokenID: id, Service: true, Name: t.Name(), OrgID: orgID, Environments: t.Environments(), ExpiresAt: t.ExpiresAt()}, nil
	}
	l, err := h.log.Load(ctx, personalTokenAggregate(id))
	if err != nil {
		return TokenIdentity{}, err
	}
	t := domain.NewPersonalToken(id)
	for _, r := range l.Events {
		t.Apply(r)
	}
	if !t.Usable(h.now()) || subtle.ConstantTimeCompare([]byte(t.SecretHash()), []byte(hash)) != 1 {
		return TokenIdentity{}, bad
	}
	u, err := LoadUser(ctx, h.log, t.UserID())
	if err != nil {
		return TokenIdentity{}, err
	}
	if !u.Exists() {
		return TokenIdentity{}, bad
	}
	return TokenIdentity{TokenID: id, UserID: u.ID(), Superadmin: u.Superadmin(), ExpiresAt: t.ExpiresAt()}, nil
}

// IsServiceToken reports whether a bearer token is a service token (kl_st_…), which
// must be checked against the organization named in the request.
func IsServiceToken(token string) bool {
	p, _, _, ok := parseToken(token)
	return ok && p == ServiceTokenPrefix
}

// IsPersonalToken reports whether a bearer token is a personal access token.
func IsPersonalToken(token string) bool {
	p, _, _, ok := parseToken(token)
	return ok && p == PersonalTokenPrefix
}
