package domain

// AggregateAccess is the aggregate kind of access records (reveals, fetches, denied
// attempts): append-only, they never change a secret's version.
const AggregateAccess = "access"

// Audit actions, as the API's audit trail names them.
const (
	AuditSecretCreated     = "secret.created"
	AuditSecretUpdated     = "secret.updated"
	AuditSecretDeleted     = "secret.deleted"
	AuditSecretRevealed    = "secret.revealed"
	AuditSecretRolledBack  = "secret.rolled_back"
	AuditSecretsFetched    = "secrets.fetched"
	AuditMemberAdded       = "member.added"
	AuditMemberRoleChanged = "member.role_changed"
	AuditMemberRemoved     = "member.removed"
	AuditOrgUpdated        = "org.updated"
	AuditTokenCreated      = "token.created"
	AuditTokenRevoked      = "token.revoked"
)

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
)

// SecretRevealed records that a caller saw a value.
type SecretRevealed struct {
	SecretID string      `json:"secret_id"`
	Env      Environment `json:"env"`
	Version  int         `json:"version"`
}

// AccessDenied records an attempt the policy refused: a viewer's write, a reveal under a
// disabled reveal policy, a non-owner editor's edit; and a reveal of an environment
// without value (Code not_found), which showed nothing.
type AccessDenied struct {
	Action   string      `json:"action"`
	SecretID string      `json:"secret_id,omitempty"`
	Env      Environment `json:"env,omitempty"`
	Code     Code        `json:"code"`
}

// EventType implementations.
func (SecretRevealed) EventType() string { return "SecretRevealed" }
func (AccessDenied) EventType() string   { return "AccessDenied" }

// AuditAction names the audit action an event stands for, or "" for events that are
// not audited (user registration, organization creation).
func AuditAction(e Event) string {
	switch e := e.(type) {
	case SecretCreated:
		return AuditSecretCreated
	case SecretUpdated:
		return AuditSecretUpdated
	case SecretValueDeleted, SecretDeleted:
		return AuditSecretDeleted
	case SecretRolledBack:
		return AuditSecretRolledBack
	case SecretRevealed:
		return AuditSecretRevealed
	case MemberAdded:
		return AuditMemberAdded
	case MemberRoleChanged:
		return AuditMemberRoleChanged
	case MemberRemoved:
		return AuditMemberRemoved
	case OrganizationUpdated:
		return AuditOrgUpdated
	case ServiceTokenCreated:
		return AuditTokenCreated
	case ServiceTokenRevoked:
		return AuditTokenRevoked
	case SecretsFetched:
		return AuditSecretsFetched
	case WebhookCreated:
		return AuditWebhookCreated
	case WebhookDeleted:
		return AuditWebhookDeleted
	case AccessDenied:
		return e.Action
	}
	return ""
}
