package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/httpapi/authcache"
)

// Authentication answers from the replica's cache (httpapi/authcache) when it can: a
// known token or session costs no read of the log or of the sessions bucket. What
// ends a credential (a token revoked, a logout) invalidates it on every replica before
// it is answered. Tags name what an entry is about, for invalidation:
const (
	tagToken   = "token:"   // a token id, service or personal
	tagSession = "session:" // a session's bucket key
	tagUser    = "user:"    // every credential of a user
	tagOrg     = "org:"     // every service token of an organization
)

// tokenCacheKey is where a token's identity is cached: a hash of the token (never the
// token itself) and of the organization a service token was checked against.
func tokenCacheKey(token, orgID string) string {
	sum := sha256.Sum256([]byte("keyledger-token\x00" + token + "\x00" + orgID))
	return "t/" + hex.EncodeToString(sum[:])
}

// authenticateToken is AuthenticateToken with the cache in front.
func (s *Server) authenticateToken(ctx context.Context, token, orgID string) (commands.TokenIdentity, error) {
	return s.cachedToken(tokenCacheKey(token, orgID), func() (commands.TokenIdentity, error) {
		return s.cmd.AuthenticateToken.Handle(ctx, token, orgID)
	})
}

// anyOrg stands for the organization in the cache key of a service token that was
// found in whichever organization holds it (identifyServiceToken), apart from the same
// token checked against an organization a request names.
const anyOrg = "*"

// identifyServiceToken is AuthenticateToken.IdentifyServiceToken (a service token
// whose organization the request does not name) with the cache in front.
func (s *Server) identifyServiceToken(ctx context.Context, token string) (commands.TokenIdentity, error) {
	return s.cachedToken(tokenCacheKey(token, anyOrg), func() (commands.TokenIdentity, error) {
		return s.cmd.AuthenticateToken.IdentifyServiceToken(ctx, token)
	})
}

// cachedToken answers a token's identity from the cache under key while it has not
// expired, else from load, and caches what load found under the tags that end it: the
// token's own, and its organization's (a service token) or its user's.
func (s *Server) cachedToken(key string, load func() (commands.TokenIdentity, error)) (commands.TokenIdentity, error) {
	if v, ok := s.auth.Get(key); ok {
		ti := v.(commands.TokenIdentity)
		if ti.ExpiresAt == nil || s.now().Before(*ti.ExpiresAt) {
			return ti, nil
		}
	}
	g := s.auth.Begin()
	ti, err := load()
	if err != nil {
		return commands.TokenIdentity{}, err
	}
	tags := []string{tagToken + ti.TokenID}
	if ti.Service {
		tags = append(tags, tagOrg+ti.OrgID)
	} else {
		tags = append(tags, tagUser+ti.UserID)
	}
	s.auth.Put(g, key, tags, ti)
	return ti, nil
}

// lookupSession is sessionStore.lookup with the cache in front.
func (s *Server) lookupSession(ctx context.Context, token string) (string, session, error) {
	if !strings.HasPrefix(token, sessionTokenPrefix) || len(token) > maxSessionToken {
		return "", session{}, errUnauthenticated()
	}
	key := sessionKey(token)
	if v, ok := s.auth.Get("s/" + key); ok {
		if sess := v.(session); s.now().Before(sess.ExpiresAt) {
			return key, sess, nil
		}
	}
	g := s.auth.Begin()
	key, sess, err := s.sessions.lookup(ctx, token)
	if err != nil {
		return "", session{}, err
	}
	s.auth.Put(g, "s/"+key, []string{tagSession + key, tagUser + sess.UserID}, sess)
	return key, sess, nil
}

// forgetToken invalidates a token everywhere after a revocation was attempted,
// whatever its outcome: a failure may have been recorded all the same, and a retry of
// a revocation whose first invalidation failed is refused as already done. An
// invalidation costs the token one load from the log on each replica.
func (s *Server) forgetToken(ctx context.Context, tokenID string) error {
	if tokenID == "" {
		return nil
	}
	return s.auth.Invalidate(ctx, tagToken+tokenID)
}

// AuthCacheStats reports the authentication cache's counters (hits read nothing from
// NATS).
func (s *Server) AuthCacheStats() authcache.Stats { return s.auth.Stats() }
