package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// UpdateSecret changes a secret's description and values. In Values, a nil pointer
// removes that environment's value; environments not in the map are unchanged.
type UpdateSecret struct {
	OrgID           string
	SecretID        string
	Description     *string
	Values          map[domain.Environment]*domain.Plaintext
	ExpectedVersion *int
}

// UpdateSecretHandler handles UpdateSecret.
type UpdateSecretHandler struct {
	log  eventLog
	keys valueKeys
}

// NewUpdateSecretHandler wires the handler.
func NewUpdateSecretHandler(log eventLog, keys valueKeys) *UpdateSecretHandler {
	return &UpdateSecretHandler{log: log, keys: keys}
}

// Handle seals each changed value for its next version and appends SecretUpdated. A
// value equal to the current one is not a change and gets no new version.
func (h *UpdateSecretHandler) Handle(ctx context.Context, m Meta, c UpdateSecret) (SecretResult, error) {
	for env, v := range c.Values {
		if v != nil {
			if err := domain.ValidateValue(env, *v); err != nil {
				return SecretResult{}, err
			}
		}
	}
	res, err := retry(ctx, func() (SecretResult, error) {
		lo, ls, p, err := secretForMember(ctx, h.log, m, c.OrgID, c.SecretID)
		if err != nil {
			return SecretResult{}, err
		}
		if seq, ok, err := m.replayed(ls.events); ok || err != nil {
			return secretResult(ctx, h.log, lo, p, ls.at(seq), Result{Seq: seq, ID: c.SecretID, Replayed: true}), err
		}
		change := domain.SecretChange{Description: c.Description, ExpectedVersion: c.ExpectedVersion}
		if ls.secret.Exists() {
			if err := domain.Authorize(p, domain.ActionModify, domain.Target{OwnerID: ls.secret.OwnerID()}); err != nil {
				return SecretResult{}, err
			}
			if err := h.sealChanges(ctx, ls.secret, c, &change); err != nil {
				return SecretResult{}, err
			}
		}
		evs, err := ls.secret.Update(p, change)
		if err != nil {
			return SecretResult{}, err
		}
		if len(evs) == 0 {
			return secretResult(ctx, h.log, lo, p, ls.secret, Result{ID: c.SecretID}), nil
		}
		return appendSecretEvents(ctx, h.log, m, lo, ls, p, evs, "update_secret")
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditSecretUpdated, c.SecretID, "", err)
}

func (h *UpdateSecretHandler) sealChanges(ctx context.Context, s *domain.Secret, c UpdateSecret, change *domain.SecretChange) error {
	for env, v := range c.Values {
		if v == nil {
			change.Remove = append(change.Remove, env)
			continue
		}
		if cur, ok := s.Value(env); ok {
			old, err := h.keys.OpenValue(ctx, eventstore.ValueRef{OrgID: s.OrgID(), SecretID: s.ID(), Env: env, Version: cur.Version}, cur.Sealed)
			if err != nil {
				return err
			}
			if old.Reveal() == v.Reveal() {
				continue
			}
		}
		next := s.NextValueVersion(env)
		sealed, err := h.keys.SealValue(ctx, eventstore.ValueRef{OrgID: s.OrgID(), SecretID: s.ID(), Env: env, Version: next}, *v)
		if err != nil {
			return err
		}
		if change.Set == nil {
			change.Set = map[domain.Environment]domain.ValueVersion{}
		}
		change.Set[env] = domain.ValueVersion{Version: next, Mask: domain.Mask(*v), Sealed: sealed}
	}
	return nil
}

// appendSecretEvents appends one decision's events to a secret, atomically, and
// answers with the secret as they leave it.
func appendSecretEvents(ctx context.Context, log eventLog, m Meta, lo loadedOrg, ls loadedSecret, p domain.Principal, evs []domain.Event, command string) (SecretResult, error) {
	s := ls.secret
	recs, err := log.Append(ctx, eventstore.Pending{
		Aggregate: secretAggregate(s.OrgID(), s.ID()), ExpectedSeq: ls.lastSeq, Version: ls.version + 1,
		Events: evs, Actor: m.actor(), MsgID: m.msgID(command, s.OrgID(), s.ID()), Idempotency: m.mark(),
	})
	if err != nil {
		return SecretResult{}, err
	}
	return secretResult(ctx, log, lo, p, ls.after(recs), Result{Seq: recs.Seq(), ID: s.ID()}), nil
}
