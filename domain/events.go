package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event is the payload of a domain event. Its type name is what the log records.
type Event interface {
	EventType() string
}

// Aggregate kinds, as they appear in the event log's subjects.
const (
	AggregateUser         = "user"
	AggregateOrganization = "org"
	AggregateSecret       = "secret"
)

// PlatformScope is the organization id used in subjects and keys for platform-level
// aggregates such as users.
const PlatformScope = "_platform"

// Actor is who caused an event, and from where.
type Actor struct {
	UserID    string `json:"user_id,omitempty"`
	TokenID   string `json:"token_id,omitempty"`
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// Recorded is an event as the log holds it: the payload and where and when it happened.
type Recorded struct {
	Seq           uint64
	EventID       string
	OrgID         string
	AggregateType string
	AggregateID   string
	Time          time.Time
	Actor         Actor
	Event         Event
	// Idempotency names the client request that caused the event, when it carried an
	// Idempotency-Key: a retry finds its first result here, in the log itself.
	Idempotency IdempotencyMark
}

// IdempotencyMark ties the events of one command to the client request that caused
// it. Key identifies the caller's Idempotency-Key (a hash of the user and the key);
// Request is a hash of the request (method, path, body), so that the same key sent
// with another request is told apart. Both are hashes: nothing here is secret.
type IdempotencyMark struct {
	Key     string `json:"key"`
	Request string `json:"request,omitempty"`
}

// IsZero reports whether the event carries no idempotency key.
func (m IdempotencyMark) IsZero() bool { return m.Key == "" }

// UserRegistered creates a platform user. The email is stored lower-cased.
type UserRegistered struct {
	Email        string `json:"email"`
	Name         string `json:"name"`
	PasswordHash string `json:"password_hash"`
	Superadmin   bool   `json:"superadmin"`
}

// OrganizationCreated creates an organization with its first owner.
//
// Schema 2 records the reveal policy the organization starts with. Schema 1 events
// (written before organizations could start with reveals disabled) had no such field;
// they are upcast on read to "allowed", which is what they meant.
type OrganizationCreated struct {
	Name         string       `json:"name"`
	OwnerID      string       `json:"owner_id"`
	RevealPolicy RevealPolicy `json:"reveal_policy"`
}

// organizationCreatedV1 is the first shape of OrganizationCreated, kept to read old events.
type organizationCreatedV1 struct {
	Name    string `json:"name"`
	OwnerID string `json:"owner_id"`
}

// OrganizationUpdated changes an organization's settings; nil fields are unchanged.
type OrganizationUpdated struct {
	Name         *string       `json:"name,omitempty"`
	RevealPolicy *RevealPolicy `json:"reveal_policy,omitempty"`
}

// DataKeyRotated records a rotation of the organization's data key: Version is the
// data-key version new data is sealed with from then on. An owner or admin rotated it
// (the event's actor), or, when Automatic, the keyring did after the previous version
// reached its encryption limit. The key itself lives in the keyring, never in the log;
// the event is not an audit-trail action.
type DataKeyRotated struct {
	Version   int  `json:"version"`
	Automatic bool `json:"automatic,omitempty"`
}

// MemberAdded makes a user a member of an organization.
type MemberAdded struct {
	UserID string `json:"user_id"`
	Role   Role   `json:"role"`
}

// MemberRoleChanged changes a member's role.
type MemberRoleChanged struct {
	UserID string `json:"user_id"`
	From   Role   `json:"from"`
	To     Role   `json:"to"`
}

// MemberRemoved ends a user's membership.
type MemberRemoved struct {
	UserID string `json:"user_id"`
	Role   Role   `json:"role"`
}

// ValueVersion is one version of a secret's value in one environment. Sealed is the
// value encrypted on its own (bound to org, secret, environment and version); the
// domain never sees the plaintext.
type ValueVersion struct {
	Version int    `json:"version"`
	Mask    string `json:"mask"`
	Sealed  string `json:"sealed"`
}

// StoredValue is a secret's current value in one environment as stored: sealed, with
// what is needed to open it.
type StoredValue struct {
	SecretID string
	Name     SecretName
	Version  int
	Sealed   string
}

// SecretCreated creates a secret owned by its creator.
type SecretCreated struct {
	Name        SecretName                   `json:"name"`
	Description string                       `json:"description"`
	OwnerID     string                       `json:"owner_id"`
	Values      map[Environment]ValueVersion `json:"values,omitempty"`
}

// SecretUpdated changes a secret's description and values; only what changed is present.
type SecretUpdated struct {
	Description *string                      `json:"description,omitempty"`
	Set         map[Environment]ValueVersion `json:"set,omitempty"`
	Removed     []Environment                `json:"removed,omitempty"`
}

// SecretValueDeleted removes a secret's value in one environment.
type SecretValueDeleted struct {
	Env     Environment `json:"env"`
	Version int         `json:"version"`
}

// SecretDeleted removes a whole secret; its name becomes free again.
type SecretDeleted struct {
	Name SecretName `json:"name"`
}

// SecretRolledBack sets a value to a copy of an earlier version, as a new version.
type SecretRolledBack struct {
	Env         Environment  `json:"env"`
	FromVersion int          `json:"from_version"`
	Value       ValueVersion `json:"value"`
}

// EventType implementations name each event in the log.
func (UserRegistered) EventType() string      { return "UserRegistered" }
func (OrganizationCreated) EventType() string { return "OrganizationCreated" }
func (OrganizationUpdated) EventType() string { return "OrganizationUpdated" }
func (DataKeyRotated) EventType() string      { return "DataKeyRotated" }
func (MemberAdded) EventType() string         { return "MemberAdded" }
func (MemberRoleChanged) EventType() string   { return "MemberRoleChanged" }
func (MemberRemoved) EventType() string       { return "MemberRemoved" }
func (SecretCreated) EventType() string       { return "SecretCreated" }
func (SecretUpdated) EventType() string       { return "SecretUpdated" }
func (SecretValueDeleted) EventType() string  { return "SecretValueDeleted" }
func (SecretDeleted) EventType() string       { return "SecretDeleted" }
func (SecretRolledBack) EventType() string    { return "SecretRolledBack" }

// SchemaVersion is the schema version new events of a type are written with. Types
// start at 1; a type whose shape changes gets the next version, and DecodeEvent keeps
// upcasting every older one. The log is never rewritten.
func SchemaVersion(eventType string) int {
	if eventType == "OrganizationCreated" {
		return 2
	}
	return 1
}

// DecodeEvent turns a stored payload back into its event, upcasting older schema
// versions. It is the explicit event-type registry: a type missing here cannot be read.
func DecodeEvent(eventType string, schema int, data []byte) (Event, error) {
	if schema < 1 || schema > SchemaVersion(eventType) {
		return nil, fmt.Errorf("decode %s: unknown schema version %d", eventType, schema)
	}
	if eventType == "OrganizationCreated" && schema == 1 {
		return upcastOrganizationCreatedV1(data)
	}
	if ev, ok := scanEvent(eventType, data); ok {
		return ev, nil
	}
	switch eventType {
	case "UserRegistered":
		return decodeAs[UserRegistered](data)
	case "OrganizationCreated":
		return decodeAs[OrganizationCreated](data)
	case "OrganizationUpdated":
		return decodeAs[OrganizationUpdated](data)
	case "DataKeyRotated":
		return decodeAs[DataKeyRotated](data)
	case "MemberAdded":
		return decodeAs[MemberAdded](data)
	case "MemberRoleChanged":
		return decodeAs[MemberRoleChanged](data)
	case "MemberRemoved":
		return decodeAs[MemberRemoved](data)
	case "SecretCreated":
		return decodeAs[SecretCreated](data)
	case "SecretUpdated":
		return decodeAs[SecretUpdated](data)
	case "SecretValueDeleted":
		return decodeAs[SecretValueDeleted](data)
	case "SecretDeleted":
		return decodeAs[SecretDeleted](data)
	case "SecretRolledBack":
		return decodeAs[SecretRolledBack](data)
	case "SecretRevealed":
		return decodeAs[SecretRevealed](data)
	case "AccessDenied":
		return decodeAs[AccessDenied](data)
	case "ServiceTokenCreated":
		return decodeAs[ServiceTokenCreated](data)
	case "ServiceTokenRevoked":
		return decodeAs[ServiceTokenRevoked](data)
	case "PersonalTokenCreated":
		return decodeAs[PersonalTokenCreated](data)
	case "PersonalTokenRevoked":
		return decodeAs[PersonalTokenRevoked](data)
	case "SecretsFetched":
		return decodeAs[SecretsFetched](data)
	case "OrganizationErased":
		return decodeAs[OrganizationErased](data)
	case "WebhookCreated":
		return decodeAs[WebhookCreated](data)
	case "WebhookDeleted":
		return decodeAs[WebhookDeleted](data)
	}
	return nil, fmt.Errorf("decode: unknown event type %q", eventType)
}

func upcastOrganizationCreatedV1(data []byte) (Event, error) {
	var v1 organizationCreatedV1
	if err := json.Unmarshal(data, &v1); err != nil {
		return nil, fmt.Errorf("decode OrganizationCreated v1: %w", err)
	}
	return OrganizationCreated{Name: v1.Name, OwnerID: v1.OwnerID, RevealPolicy: RevealAllowed}, nil
}

func decodeAs[T Event](data []byte) (Event, error) {
	var e T
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", e.EventType(), err)
	}
	return e, nil
}
