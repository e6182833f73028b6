package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// RevealSecret opens one environment's current value for an authorized caller.
type RevealSecret struct {
	OrgID    string
	SecretID string
	Env      domain.Environment
}

// Revealed is a revealed value and its version.
type Revealed struct {
	Value   domain.Plaintext
	Version int
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

// Handle checks the policy against the log's current state and opens the value.
func (h *RevealSecretHandler) Handle(ctx context.Context, m Meta, c RevealSecret) (Revealed, error) {
	lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
	if err != nil {
		return Revealed{}, err
	}
	ls, err := loadSecret(ctx, h.log, c.OrgID, c.SecretID)
	if err != nil {
		return Revealed{}, err
	}
	vv, err := ls.secret.Reveal(p, lo.org.RevealPolicy(), c.Env)
	if err != nil {
		return Revealed{}, err
	}
	v, err := h.keys.OpenValue(ctx, eventstore.ValueRef{OrgID: c.OrgID, SecretID: c.SecretID, Env: c.Env, Version: vv.Version}, vv.Sealed)
	if err != nil {
		return Revealed{}, err
	}
	return Revealed{Value: v, Version: vv.Version}, nil
}
