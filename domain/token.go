package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Aggregate kinds of tokens: service tokens live in their organization, personal
// access tokens in the platform scope.
const (
	AggregateServiceToken  = "token"
	AggregatePersonalToken = "pat"
)

// ServiceTokenCreated creates an organization's service token, scoped to environments.
// Only the hash of the token's secret is kept.
type ServiceTokenCreated struct {
	Name         string        `json:"name"`
	Environments []Environment `json:"environments"`
	ExpiresAt    *time.Time    `json:"expires_at,omitempty"`
	SecretHash   string        `json:"secret_hash"`
}

// ServiceTokenRevoked ends a service token.
type ServiceTokenRevoked struct {
	Name string `json:"name"`
}

// PersonalTokenCreated creates a user's personal access token.
type PersonalTokenCreated struct {
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	SecretHash string     `json:"secret_hash"`
}

// PersonalTokenRevoked ends a personal access token.
type PersonalTokenRevoked struct{}

// SecretsFetched records a server-side fetch of an environment's values, by a service
// token or a member. Names are the secrets whose values left the server, sorted.
//
// One event is one message in the log, and a message has a maximum size (1 MiB by
// default on a NATS server). A fetch of more than MaxFetchedNames values therefore
// does not list the names: it records how many values left (Count) and NamesSHA256,
// the hex SHA-256 of the sorted names each followed by a newline (see
// FetchedNamesDigest), which anyone holding the log can recompute from the
// environment's secrets at the event's sequence (keyledger replay --until-seq).
type SecretsFetched struct {
	Env   Environment `json:"env"`
	Names []string    `json:"names"`
	// Count is how many values left the server when Names is not the full list (0:
	// Names is the full list, as in every event recorded before the bound).
	Count int `json:"count,omitempty"`
	// NamesSHA256 digests the full sorted list of names when Names does not hold it.
	NamesSHA256 string `json:"names_sha256,omitempty"`
}

// MaxFetchedNames is how many names one secrets.fetched event lists at most. With
// names of MaxSecretNameLength bytes the sealed event stays far below 1 MiB (a test
// in eventstore pins that); beyond it the event records a count and a digest.
const MaxFetchedNames = 1000

// NewSecretsFetched records a fetch of env's values named sorted (in byte order): the
// names themselves when there are at most limit of them (limit <= 0 means
// MaxFetchedNames), else their count and digest.
func NewSecretsFetched(env Environment, sorted []string, limit int) SecretsFetched {
	if limit <= 0 {
		limit = MaxFetchedNames
	}
	if len(sorted) <= limit {
		return SecretsFetched{Env: env, Names: sorted}
	}
	return SecretsFetched{Env: env, Count: len(sorted), NamesSHA256: FetchedNamesDigest(sorted)}
}

// FetchedNamesDigest is the hex SHA-256 of names (sorted by the caller), each followed
// by a newline; a secret name never holds one.
func FetchedNamesDigest(sorted []string) string {
	h := sha256.New()
	for _, n := range sorted {
		h.Write([]byte(n))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Fetched is how many values the fetch handed out.
func (e SecretsFetched) Fetched() int {
	if e.NamesSHA256 != "" {
		return e.Count
	}
	return len(e.Names)
}

// EventType implementations.
func (ServiceTokenCreated) EventType() string  { return "ServiceTokenCreated" }
func (ServiceTokenRevoked) EventType() string  { return "ServiceTokenRevoked" }
func (PersonalTokenCreated) EventType() string { return "PersonalTokenCreated" }
func (PersonalTokenRevoked) EventType() string { return "PersonalTokenRevoked" }
func (SecretsFetched) EventType() string       { return "SecretsFetched" }

// ParseTokenName trims and validates a token's name.
func ParseTokenName(s string) (string, error) {
	n := strings.TrimSpace(s)
	if n == "" {
		return "", Invalid("name", "is required")
	}
	if err := ValidateText("name", n, SingleLine); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(n) > 100 {
		return "", Invalid("name", "must be at most 100 characters of UTF-8")
	}
	return n, nil
}

func validExpiry(expires *time.Time, now time.Time) error {
	if expires != nil && !expires.After(now) {
		return Invalid("expires_at", "must be in the future")
	}
	return nil
}

// ServiceToken is the aggregate of one service token.
type ServiceToken struct {
	id           string
	orgID        string
	name         string
	environments []Environment
	expiresAt    *time.Time
	secretHash   string
	createdAt    time.Time
	exists       bool
	revoked      bool
}

// NewServiceToken returns an empty service token aggregate.
func NewServiceToken(orgID, id string) *ServiceToken { return &ServiceToken{orgID: orgID, id: id} }

// Getters.
func (t *ServiceToken) ID() string                  { return t.id }
func (t *ServiceToken) OrgID() string               { return t.orgID }
func (t *ServiceToken) Name() string                { return t.name }
func (t *ServiceToken) Environments() []Environment { return t.environments }
func (t *ServiceToken) SecretHash() string          { return t.secretHash }
func (t *ServiceToken) Exists() bool                { return t.exists }
func (t *ServiceToken) Revoked() bool               { return t.revoked }
func (t *ServiceToken) ExpiresAt() *time.Time       { return t.expiresAt }

// CreateServiceToken decides creating a service token; it takes priority ≥ 100.
func CreateServiceToken(p Principal, name string, envs []Environment, expires *time.Time, secretHash string, now time.Time) (Event, error) {
	if err := Authorize(p, ActionManage, Target{}); err != nil {
		return nil, err
	}
	n, err := ParseTokenName(name)
	if err != nil {
		return nil, err
	}
	if len(envs) == 0 {
		return nil, Invalid("environments", "must name at least one environment")
	}
	for _, e := range envs {
		if _, err := ParseEnvironment(string(e)); err != nil {
			return nil, Invalid("environments", "must name only development, staging or production")
		}
	}
	uniq := []Environment{}
	for _, e := range Environments() {
		if slices.Contains(envs, e) {
			uniq = append(uniq, e)
		}
	}
	if err := validExpiry(expires, now); err != nil {
		return nil, err
	}
	return ServiceTokenCreated{Name: n, Environments: uniq, ExpiresAt: expires, SecretHash: secretHash}, nil
}

// Revoke decides revoking the token.
func (t *ServiceToken) Revoke(p Principal) (Event, error) {
	if err := Authorize(p, ActionManage, Target{}); err != nil {
		return nil, err
	}
	if !t.exists || t.revoked {
		return nil, Errorf(CodeNotFound, "The service token was not found.")
	}
	return ServiceTokenRevoked{Name: t.name}, nil
}

// Usable reports whether the token may be used at now: it exists, is not revoked and
// has not expired. A token that is not usable authenticates nobody (401).
func (t *ServiceToken) Usable(now time.Time) bool {
	return t.exists && !t.revoked && (t.expiresAt == nil || now.Before(*t.expiresAt))
}

// Allows reports whether the token is scoped to env.
func (t *ServiceToken) Allows(env Environment) bool { return slices.Contains(t.environments, env) }

// Apply changes the token's state by one recorded event.
func (t *ServiceToken) Apply(r Recorded) {
	switch e := r.Event.(type) {
	case ServiceTokenCreated:
		t.exists, t.name, t.environments, t.expiresAt, t.secretHash, t.createdAt = true, e.Name, e.Environments, e.ExpiresAt, e.SecretHash, r.Time
	case ServiceTokenRevoked:
		t.revoked = true
	}
}

// PersonalToken is the aggregate of one personal access token.
type PersonalToken struct {
	id         string
	userID     string
	name       string
	expiresAt  *time.Time
	secretHash string
	exists     bool
	revoked    bool
}

// NewPersonalToken returns an empty personal token aggregate.
func NewPersonalToken(id string) *PersonalToken { return &PersonalToken{id: id} }

// Getters.
func (t *PersonalToken) ID() string            { return t.id }
func (t *PersonalToken) UserID() string        { return t.userID }
func (t *PersonalToken) SecretHash() string    { return t.secretHash }
func (t *PersonalToken) ExpiresAt() *time.Time { return t.expiresAt }

// CreatePersonalToken decides creating a personal token for userID.
func CreatePersonalToken(userID, name string, expires *time.Time, secretHash string, now time.Time) (Event, error) {
	n, err := ParseTokenName(name)
	if err != nil {
		return nil, err
	}
	if err := validExpiry(expires, now); err != nil {
		return nil, err
	}
	return PersonalTokenCreated{UserID: userID, Name: n, ExpiresAt: expires, SecretHash: secretHash}, nil
}

// Revoke decides revoking the token; only its owner may.
func (t *PersonalToken) Revoke(userID string) (Event, error) {
	if !t.exists || t.revoked || t.userID != userID {
		return nil, Errorf(CodeNotFound, "The token was not found.")
	}
	return PersonalTokenRevoked{}, nil
}

// Usable reports whether the token may be used at now.
func (t *PersonalToken) Usable(now time.Time) bool {
	return t.exists && !t.revoked && (t.expiresAt == nil || now.Before(*t.expiresAt))
}

// Apply changes the token's state by one recorded event.
func (t *PersonalToken) Apply(r Recorded) {
	switch e := r.Event.(type) {
	case PersonalTokenCreated:
		t.exists, t.userID, t.name, t.expiresAt, t.secretHash = true, e.UserID, e.Name, e.ExpiresAt, e.SecretHash
	case PersonalTokenRevoked:
		t.revoked = true
	}
}
