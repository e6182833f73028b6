package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/eventstore/storeerr"
)

// Cookie names of a browser session.
const (
	sessionCookie = "keyledger_session"
	csrfCookie    = "keyledger_csrf"
	csrfHeader    = "X-CSRF-Token"
)

// sessionTokenPrefix marks session tokens, so that a leaked one is recognisable and
// never mistaken for a personal (kl_pat_) or service (kl_st_) token.
const sessionTokenPrefix = "kl_sess_"

// maxSessionToken is the longest session token looked up; longer ones are refused.
const maxSessionToken = 128

// session is what the server remembers of a login, under the hash of its token. The
// token itself is never stored.
type session struct {
	UserID     string    `json:"user_id"`
	Email      string    `json:"email"`
	Name       string    `json:"name"`
	Superadmin bool      `json:"superadmin"`
	CSRF       string    `json:"csrf"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// sessionStore keeps sessions in a bucket beside the log, so every replica sees a
// login and a logout at once.
type sessionStore struct {
	bucket SessionRecords
	ttl    time.Duration
	now    func() time.Time
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sessionKey is the bucket key of a token: its SHA-256, so the bucket holds nothing a
// client could present.
func sessionKey(token string) string {
	sum := sha256.Sum256([]byte("keyledger-session\x00" + token))
	return hex.EncodeToString(sum[:])
}

// create starts a session for u and returns its token.
func (ss *sessionStore) create(ctx context.Context, u commands.AuthenticatedUser) (string, session, error) {
	secret, err := randomToken(32)
	if err != nil {
		return "", session{}, err
	}
	csrf, err := randomToken(24)
	if err != nil {
		return "", session{}, err
	}
	token := sessionTokenPrefix + secret
	s := session{UserID: u.ID, Email: u.Email, Name: u.Name, Superadmin: u.Superadmin, CSRF: csrf,
		ExpiresAt: ss.now().Add(ss.ttl).UTC()}
	b, err := json.Marshal(s)
	if err != nil {
		return "", session{}, err
	}
	if err := ss.bucket.Create(ctx, sessionKey(token), b); err != nil {
		return "", session{}, fmt.Errorf("store session: %w", err)
	}
	return token, s, nil
}

// lookup returns the live session of token, or unauthenticated.
func (ss *sessionStore) lookup(ctx context.Context, token string) (string, session, error) {
	if !strings.HasPrefix(token, sessionTokenPrefix) || len(token) > maxSessionToken {
		return "", session{}, errUnauthenticated()
	}
	key := sessionKey(token)
	b, err := ss.bucket.Get(ctx, key)
	if errors.Is(err, storeerr.ErrNotFound) {
		return "", session{}, errUnauthenticated()
	}
	if err != nil {
		return "", session{}, fmt.Errorf("load session: %w", err)
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return "", session{}, fmt.Errorf("decode session: %w", err)
	}
	if !ss.now().Before(s.ExpiresAt) {
		return "", session{}, errUnauthenticated()
	}
	return key, s, nil
}

// end deletes a session: the token is dead on every replica.
func (ss *sessionStore) end(ctx context.Context, key string) error {
	return ss.bucket.Delete(ctx, key)
}
