package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
)

// RollbackSecret sets an environment's value to a copy of an earlier version.
type RollbackSecret struct {
	OrgID    string
	SecretID string
	Env      domain.Environment
	Version  int
}

// RollbackSecretHandler handles RollbackSecret.
type RollbackSecretHandler struct {
	log  eventLog
	keys valueKeys
}

// NewRollbackSecretHandler wires the handler.
func NewRollbackSecretHandler(log eventLog, keys valueKeys) *RollbackSecretHandler {
	return &RollbackSecretHandler{log: log, keys: keys}
}

// Handle opens the old version and seals it again as the next version: history is
// never rewritten.
func (h *RollbackSecretHandler) Handle(ctx context.Context, m Meta, c RollbackSecret) (SecretResult, error) {
	res, err := retry(ctx, func() (SecretResult, error) {
		lo, ls, p, err := secretForMember(ctx, h.log, m, c.OrgID, c.SecretID, true, nil)
		if err != nil {
			return SecretResult{}, err
		}
		defer ls.release()
		if res, ok, err := ls.replay(ctx, h.log, m, lo, p, c.SecretID); ok || err != nil {
			return res, err
		}
		if ls, err = ls.withHistory(ctx); err != nil {
			return SecretResult{}, err
		}
		ev, err := ls.secret.Rollback(ctx, p, c.Env, c.Version, h.keys)
		if err != nil {
			return SecretResult{}, err
		}
		return appendSecretEvents(ctx, h.log, m, lo, ls, p, []domain.Event{ev}, "rollback_secret")
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditSecretRolledBack, c.SecretID, c.Env, err)
}
