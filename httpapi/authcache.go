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
	key := tokenCacheKey(token, orgID)
	if v, ok := s.auth.Get(key); ok {
		ti := v.(commands.TokenIdentity)
		if ti.ExpiresAt == nil || s.now().Before(*ti.ExpiresAt) {
			return ti, nil
		}
	}
	g := s.auth.Begin()
	ti, err := s.cmd.AuthenticateToken.Handle(ctx, token, orgID)
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

// identifyServiceToken is AuthenticateToken.IdentifyServiceToken (a service token
// whose organization the request does not name) with the cache in front. It is cached
// apart from the same token checked against a named organization (an empty orgID in
// the key), under the same tags, so that a revocation drops both.
func (s *Server) identifyServiceToken(ctx context.Context, token string) (commands.TokenIdentity, error) {
	key := tokenCacheKey(token, "")
	if v, ok := s.auth.Get(key); ok {
		ti := v.(commands.TokenIdentity)
		if ti.ExpiresAt == nil || s.now().Before(*ti.ExpiresAt) {
			return ti, nil
		}
	}
	g := s.auth.Begin()
	ti, err := s.cmd.AuthenticateToken.IdentifyServiceToken(ctx, token)
	if err != nil {
		return commands.TokenIdentity{}, err
	}
	s.auth.Put(g, key, []string{tagToken + ti.TokenID, tagOrg + ti.OrgID}, ti)
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
func (s *Server) forgetToken(ctx context.Context, tokenID string, _ error) error {
	if tokenID == "" {
		return nil
	}
	return s.auth.Invalidate(ctx, tagToken+tokenID)
}

// AuthCacheStats reports the authentication cache's counters (hits read nothing from
// NATS).
func (s *Server) AuthCacheStats() authcache.Stats { return s.auth.Stats() }
