package commands

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// Token prefixes say what a token is, so that a leaked one is recognisable by secret
// scanners and the server knows where to look it up.
const (
	ServiceTokenPrefix  = "kl_st_"
	PersonalTokenPrefix = "kl_pat_"
)

// issueToken makes a new token: prefix, the token's id (32 hex digits) and 32 random
// bytes. Only the hash of the random part is stored.
func issueToken(prefix string) (id, token, secretHash string, err error) {
	return issueTokenWithID(prefix, uuid.New())
}

// issueTokenWithID is issueToken for a token whose id is already decided (derived
// from an idempotency key): the id is part of the token, so it must be the aggregate's.
func issueTokenWithID(prefix string, u uuid.UUID) (id, token, secretHash string, err error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", "", "", fmt.Errorf("issue token: %w", err)
	}
	s := base64.RawURLEncoding.EncodeToString(secret)
	return u.String(), prefix + strings.ReplaceAll(u.String(), "-", "") + s, hashTokenSecret(s), nil
}

func hashTokenSecret(secret string) string {
	sum := sha256.Sum256([]byte("keyledger-token\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// parseToken splits a token into its kind (prefix), id and secret.
func parseToken(token string) (prefix, id, secret string, ok bool) {
	for _, p := range []string{ServiceTokenPrefix, PersonalTokenPrefix} {
		rest, found := strings.CutPrefix(token, p)
		if !found || len(rest) <= 32 {
			continue
		}
		u, err := uuid.Parse(rest[:32])
		if err != nil {
			return "", "", "", false
		}
		return p, u.String(), rest[32:], true
	}
	return "", "", "", false
}

func serviceTokenAggregate(orgID, id string) eventstore.Aggregate {
	return eventstore.Aggregate{OrgID: orgID, Type: domain.AggregateServiceToken, ID: id}
}

func personalTokenAggregate(id string) eventstore.Aggregate {
	return eventstore.Aggregate{OrgID: domain.PlatformScope, Type: domain.AggregatePersonalToken, ID: id}
}

// earlierToken reads the token aggregate agg that a keyed creation's id derives to:
// the first result when the key's own request made it (replayed), 422
// idempotency_key_reused when another request did, and neither when it is new. The
// result never holds the token: only its hash was recorded.
func earlierToken(ctx context.Context, log eventLog, m Meta, agg eventstore.Aggregate) (res Result, replayed bool, err error) {
	l, err := log.Load(ctx, agg)
	if err != nil {
		return Result{}, false, err
	}
	if seq, ok, err := m.replayed(l.Events); ok || err != nil {
		return Result{Seq: seq, ID: agg.ID, Replayed: true}, true, err
	}
	if len(l.Events) > 0 {
		return Result{}, false, errKeyReused()
	}
	return Result{}, false, nil
}
