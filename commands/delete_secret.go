package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
)

// DeleteSecret removes one environment's value (Env set) or the whole secret.
type DeleteSecret struct {
	OrgID    string
	SecretID string
	Env      *domain.Environment
}

// DeleteSecretHandler handles DeleteSecret.
type DeleteSecretHandler struct {
	log   eventLog
	names nameReservations
	// snapshots, when set, is where a deletion without an Idempotency-Key restores a
	// secret the aggregate cache does not hold from (see UpdateSecretHandler).
	snapshots secretSnapshots
}

// NewDeleteSecretHandler wires the handler.
func NewDeleteSecretHandler(log eventLog, names nameReservations) *DeleteSecretHandler {
	return &DeleteSecretHandler{log: log, names: names}
}

// WithSnapshots returns the handler restoring secrets that are not in the aggregate
// cache from s's copies, as far as the log confirms them, instead of replaying their
// histories (UpdateSecretHandler.WithSnapshots).
func (h *DeleteSecretHandler) WithSnapshots(s secretSnapshots) *DeleteSecretHandler {
	c := *h
	c.snapshots = s
	return &c
}

// Handle appends SecretValueDeleted or SecretDeleted; deleting the whole secret frees
// its name.
func (h *DeleteSecretHandler) Handle(ctx context.Context, m Meta, c DeleteSecret) (Result, error) {
	res, err := retry(ctx, func() (Result, error) {
		lo, ls, p, err := secretForMember(ctx, h.log, m, c.OrgID, c.SecretID, true, h.snapshots)
		if err != nil {
			return Result{}, err
		}
		defer ls.release()
		if seq, ok, err := m.replayed(ls.events); ok || err != nil {
			return Result{Seq: seq, ID: c.SecretID, Replayed: true}, err
		}
		var ev domain.Event
		if c.Env != nil {
			ev, err = ls.secret.DeleteValue(p, *c.Env)
		} else {
			ev, err = ls.secret.Delete(p)
		}
		if err != nil {
			return Result{}, err
		}
		name := ls.secret.Name()
		r, err := appendSecretEvents(ctx, h.log, m, lo, ls, p, []domain.Event{ev}, "delete_secret")
		if err != nil {
			return Result{}, err
		}
		if c.Env == nil {
			// The deletion is recorded: a failure to free the name now is not the
			// caller's error (a later create takes a deleted secret's name over).
			release(context.WithoutCancel(ctx), h.names, c.OrgID, name, c.SecretID)
		}
		return r.Result, nil
	})
	var env domain.Environment
	if c.Env != nil {
		env = *c.Env
	}
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditSecretDeleted, c.SecretID, env, err)
}

// release frees a deleted secret's name as far as it can: a name left reserved by a
// deleted secret is taken over by the next create that wants it. (A legacy
// reservation needs nothing: a deleted holder holds no name.)
func release(ctx context.Context, names nameReservations, orgID string, name domain.SecretName, secretID string) {
	if key, err := names.Key(ctx, orgID, string(name)); err == nil {
		_ = names.Release(ctx, key, secretID)
	}
}
