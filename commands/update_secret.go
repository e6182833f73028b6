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
func (h *UpdateSecretHandler) Handle(ctx context.Context, m Meta, c UpdateSecret) (Result, error) {
	for env, v := range c.Values {
		if v != nil {
			if err := domain.ValidateValue(env, *v); err != nil {
				return Result{}, err
			}
		}
	}
	res, err := retry(ctx, func() (Result, error) {
		_, ls, p, err := secretForMember(ctx, h.log, m, c.OrgID, c.SecretID)
		if err != nil {
			return Result{}, err
		}
		change := domain.SecretChange{Description: c.Description, ExpectedVersion: c.ExpectedVersion}
		if ls.secret.Exists() {
			if err := domain.Authorize(p, domain.ActionModify, domain.Target{OwnerID: ls.secret.OwnerID()}); err != nil {
				return Result{}, err
			}
			if err := h.sealChanges(ctx, ls.secret, c, &change); err != nil {
				return Result{}, err
			}
		}
		evs, err := ls.secret.Update(p, change)
		if err != nil || len(evs) == 0 {
			return Result{ID: c.SecretID}, err
		}
		return appendSecretEvent(ctx, h.log, m, ls, evs[0], "update_secret")
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

func appendSecretEvent(ctx context.Context, log eventLog, m Meta, ls loadedSecret, ev domain.Event, command string) (Result, error) {
	s := ls.secret
	rec, err := log.Append(ctx, eventstore.Pending{
		Aggregate: secretAggregate(s.OrgID(), s.ID()), ExpectedSeq: ls.lastSeq, Version: ls.version + 1,
		Event: ev, Actor: m.actor(), MsgID: m.msgID(command, s.OrgID(), s.ID()),
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Seq: rec.Seq, ID: s.ID()}, nil
}
