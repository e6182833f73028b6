package commands

import (
	"context"
	"fmt"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// RevealSecret opens one environment's current value for an authorized caller.
type RevealSecret struct {
	OrgID    string
	SecretID string
	Env      domain.Environment
}

// Revealed is a revealed value, its version, and the sequence of the audit record.
type Revealed struct {
	Value   domain.Plaintext
	Version int
	Seq     uint64
}

// RevealSecretHandler handles RevealSecret.
type RevealSecretHandler struct {
	log  eventLog
	keys valueKeys
}

// NewRevealSecretHandler wires the handler.
func NewRevealSecretHandler(log eventLog, keys valueKeys) *RevealSecretHandler {
	return &RevealSecretHandler{log: log, keys: keys}
}

// Handle checks the policy against the log's current state, records the reveal (or the
// refusal) as an event, and only then opens the value: no reveal goes unaudited.
func (h *RevealSecretHandler) Handle(ctx context.Context, m Meta, c RevealSecret) (Revealed, error) {
	lo, ls, p, err := secretForMember(ctx, h.log, m, c.OrgID, c.SecretID, false)
	if err != nil {
		return Revealed{}, err
	}
	vv, err := ls.secret.Reveal(p, lo.org.RevealPolicy(), c.Env)
	// The decision is made: the secret's turn is not held over the audit append.
	ls.release()
	if err != nil {
		return Revealed{}, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditSecretRevealed, c.SecretID, c.Env, err)
	}
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: accessAggregate(c.OrgID), Unchecked: true,
		Events: []domain.Event{domain.SecretRevealed{SecretID: c.SecretID, Env: c.Env, Version: vv.Version}},
		Actor:  m.actor(),
	})
	if err != nil {
		return Revealed{}, fmt.Errorf("record reveal: %w", err)
	}
	v, err := h.keys.OpenValue(ctx, eventstore.ValueRef{OrgID: c.OrgID, SecretID: c.SecretID, Env: c.Env, ValueVersion: vv.Version}, vv.Sealed)
	if err != nil {
		return Revealed{}, err
	}
	return Revealed{Value: v, Version: vv.Version, Seq: recs.Seq()}, nil
}
