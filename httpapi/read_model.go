package httpapi

import (
	"context"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/projections"
)

// ReadModel is what the API reads from the read models, one narrow port per job; every
// field is required. *projections.ReadModels hands out a type for each
// (ReadModelOf wires them), and a test may put a fake in any one.
type ReadModel struct {
	Secrets   SecretReads
	Directory DirectoryReads
	Audit     AuditReads
	Tokens    TokenReads
	Webhooks  WebhookReads
	// Progress is read-your-writes waiting and how far the read models are. When it
	// also reports a stall or a lease (projections.Progress does), /readyz and
	// /metrics show them.
	Progress ProjectionProgress
	// Health says whether Postgres answers (/readyz).
	Health interface {
		Ping(ctx context.Context) error
	}
}

// ReadModelOf is the API's view of rm: each port is the part of rm that answers it.
func ReadModelOf(rm *projections.ReadModels) ReadModel {
	return ReadModel{
		Secrets: rm.Secrets, Directory: rm.Directory, Audit: rm.Audit, Tokens: rm.Tokens,
		Webhooks: rm.Webhooks, Progress: rm.Progress, Health: rm.Pool,
	}
}

// complete reports whether every port is set.
func (r ReadModel) complete() bool {
	return r.Secrets != nil && r.Directory != nil && r.Audit != nil && r.Tokens != nil &&
		r.Webhooks != nil && r.Progress != nil && r.Health != nil
}

// SecretReads is the secrets grid, one secret with the caller's access, its versions,
// and an environment's sealed values (integration fetches).
type SecretReads interface {
	SecretAccess(ctx context.Context, orgID, userID, secretID string) (projections.SecretAccess, error)
	SecretPageAt(ctx context.Context, orgID, userID string, f projections.SecretFilter) (projections.SecretPage, error)
	ListVersions(ctx context.Context, orgID, secretID string, env domain.Environment) ([]projections.ValueVersionEntry, error)
	SealedValues(ctx context.Context, orgID string, env domain.Environment) (values []domain.StoredValue, asOf uint64, err error)
	RevealSnapshot(ctx context.Context, orgID, secretID string, env domain.Environment) (snap domain.RevealSnapshot, checkpoint uint64, ok bool, err error)
	// SecretSnapshot is what an update of a secret not in the command cache restores
	// it from (commands.UpdateSecretHandler.WithSnapshots).
	SecretSnapshot(ctx context.Context, orgID, secretID string) (st domain.SecretState, lastSeq, checkpoint uint64, ok bool, err error)
}

// DirectoryReads is organizations (with the caller's role), memberships, members and users.
type DirectoryReads interface {
	GetOrg(ctx context.Context, orgID string) (projections.Org, error)
	MembershipsOf(ctx context.Context, userID string) ([]projections.Membership, error)
	OrgAccess(ctx context.Context, orgID, userID string) (projections.Org, domain.Role, error)
	ListMembers(ctx context.Context, orgID string) ([]projections.Member, error)
	GetUser(ctx context.Context, userID string) (projections.User, error)
}

// AuditReads is the audit trail and its verification against the log.
type AuditReads interface {
	ListAudit(ctx context.Context, orgID string, f projections.AuditFilter) ([]projections.AuditEntry, string, error)
	StreamAudit(ctx context.Context, orgID string, f projections.AuditFilter, fn func(projections.AuditEntry) error) error
	VerifyAudit(ctx context.Context, orgID string, log projections.ScopeLoader) (projections.AuditVerification, error)
}

// TokenReads is service and personal tokens.
type TokenReads interface {
	ListServiceTokens(ctx context.Context, orgID string) ([]projections.ServiceTokenInfo, error)
	ListPersonalTokens(ctx context.Context, userID string) ([]projections.PersonalTokenInfo, error)
}

// WebhookReads is an organization's webhooks.
type WebhookReads interface {
	ListWebhooks(ctx context.Context, orgID string) ([]projections.WebhookInfo, error)
	GetWebhook(ctx context.Context, orgID, id string) (projections.WebhookInfo, error)
}

// ProjectionProgress is how far the read models are and waiting for them to reach a
// command's sequence.
type ProjectionProgress interface {
	WaitFor(ctx context.Context, seq uint64) error
	Checkpoint(ctx context.Context) (uint64, error)
}
