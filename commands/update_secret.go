package commands

import (
	"context"
	"errors"

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
	// snapshots, when set, is the read models' copy of secrets, from which an update
	// of a secret not in the aggregate cache restores it once the log confirms the
	// copy is current (cachedLog.restoreSecret).
	snapshots secretSnapshots
}

// secretSnapshots is the read-model query an update restores a secret from
// (projections.Secrets): its current state, the sequence of its last event and the
// checkpoint the state reflects, or ok=false when the read models hold no such secret.
type secretSnapshots interface {
	SecretSnapshot(ctx context.Context, orgID, secretID string) (st domain.SecretState, lastSeq, checkpoint uint64, ok bool, err error)
}

// NewUpdateSecretHandler wires the handler.
func NewUpdateSecretHandler(log eventLog, keys valueKeys) *UpdateSecretHandler {
	return &UpdateSecretHandler{log: log, keys: keys}
}

// WithSnapshots returns the handler restoring secrets that are not in the aggregate
// cache from s's copies, as far as the log confirms them, instead of replaying their
// histories: an update of one of 100,000 secrets then reads one row and looks at the
// log's newest blocks, where replaying read the whole message block that held the
// secret's history into the log server's memory.
func (h *UpdateSecretHandler) WithSnapshots(s secretSnapshots) *UpdateSecretHandler {
	c := *h
	c.snapshots = s
	return &c
}

// Handle seals each changed value for its next version and appends SecretUpdated. A
// value equal to the current one is not a change and gets no new version.
func (h *UpdateSecretHandler) Handle(ctx context.Context, m Meta, c UpdateSecret) (SecretResult, error) {
	res, err := retry(ctx, func() (SecretResult, error) {
		if cl, ok := h.log.(*cachedLog); ok && m.IdempotencyKey == "" {
			return h.grouped(ctx, cl, m, c)
		}
		lo, ls, p, err := secretForMember(ctx, h.log, m, c.OrgID, c.SecretID, true, nil)
		if err != nil {
			return SecretResult{}, err
		}
		defer ls.release()
		if res, ok, err := ls.replay(ctx, h.log, m, lo, p, c.SecretID); ok || err != nil {
			return res, err
		}
		evs, err := ls.secret.Update(ctx, p, domain.SecretChange{
			Description: c.Description, Values: c.Values, ExpectedVersion: c.ExpectedVersion,
		}, h.keys)
		if err != nil {
			return SecretResult{}, err
		}
		if len(evs) == 0 {
			cur := ls.current()
			ls.release()
			return secretResult(ctx, h.log, lo, p, cur, Result{ID: c.SecretID}), nil
		}
		return appendSecretEvents(ctx, h.log, m, lo, ls, p, evs, "update_secret")
	})
	return res, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditSecretUpdated, c.SecretID, "", err)
}

// grouped decides and appends the update in a group with the other writers of the
// secret queued at the same time (secret_group.go): one message for all of them.
func (h *UpdateSecretHandler) grouped(ctx context.Context, cl *cachedLog, m Meta, c UpdateSecret) (SecretResult, error) {
	lo, p, err := memberPrincipal(ctx, cl, m, c.OrgID)
	if err != nil {
		return SecretResult{}, err
	}
	if err := validID("secret", c.SecretID); err != nil {
		return SecretResult{}, err
	}
	change := domain.SecretChange{Description: c.Description, Values: c.Values, ExpectedVersion: c.ExpectedVersion}
	w := cl.writeSecret(ctx, c.OrgID, c.SecretID, m.actor(), h.snapshots, func(ctx context.Context, s *domain.Secret) ([]domain.Event, error) {
		return s.Update(ctx, p, change, h.keys)
	})
	if w.err != nil {
		return SecretResult{}, w.err
	}
	return secretResult(ctx, cl, lo, p, w.state, Result{Seq: w.recs.Seq(), ID: c.SecretID}), nil
}

// appendSecretEvents appends one decision's events to a secret, atomically, and
// answers with the secret as they leave it.
func appendSecretEvents(ctx context.Context, log eventLog, m Meta, lo loadedOrg, ls loadedSecret, p domain.Principal, evs []domain.Event, command string) (SecretResult, error) {
	s := ls.secret
	recs, err := log.Append(ctx, eventstore.Pending{
		Aggregate: secretAggregate(s.OrgID(), s.ID()), ExpectedSeq: ls.lastSeq, Position: ls.eventCount + 1,
		Events: evs, Actor: m.actor(), MsgID: m.msgID(command, s.OrgID(), s.ID()), Idempotency: m.mark(),
	})
	if err != nil {
		if errors.Is(err, eventstore.ErrVersionConflict) && ls.turn != nil {
			ls.turn.stale = true
		}
		return SecretResult{}, err
	}
	after := ls.after(ctx, m, recs)
	// The secret is recorded and the answer is a copy: the next writer's turn may
	// begin before the owner is looked up for the answer.
	ls.release()
	return secretResult(ctx, log, lo, p, after, Result{Seq: recs.Seq(), ID: after.ID()}), nil
}
