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
	TokenID      string
	Service      bool
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
	log eventLog
	now func() time.Time
}

// NewAuthenticateTokenHandler wires the handler.
func NewAuthenticateTokenHandler(log eventLog, now func() time.Time) *AuthenticateTokenHandler {
	return &AuthenticateTokenHandler{log: log, now: now}
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
		return TokenIdentity{TokenID: id, Service: true, OrgID: orgID, Environments: t.Environments(), ExpiresAt: t.ExpiresAt()}, nil
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
