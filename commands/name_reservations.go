package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// LegacyNames is what MoveLegacyNames did: legacy reservations moved to their keyed
// key, forgotten (their secret gone, or their organization erased), and left for a
// later run (a create still under way, or a name someone else holds under its keyed
// key).
type LegacyNames struct {
	Moved, Forgotten, Left int
}

// MoveLegacyNames moves every legacy name reservation (a bare SHA-256 of organization
// and name, which a dictionary confirms and which outlived erasure) to its keyed key
// and forgets the legacy one, history and all. A reservation whose secret is gone, or
// whose organization is erased, and a released one (its deletion marker still names
// the hash), are only forgotten. It is idempotent, and cheap when
// nothing is left to move: serve runs it at every start.
func (h *CreateSecretHandler) MoveLegacyNames(ctx context.Context) (LegacyNames, error) {
	var out LegacyNames
	legacy, err := h.names.Legacy(ctx)
	if err != nil {
		return out, err
	}
	for _, res := range legacy {
		orgID, _, ok := strings.Cut(res.Key, ".")
		if !ok {
			continue
		}
		moved, err := h.moveLegacyName(ctx, orgID, res)
		if err != nil {
			return out, fmt.Errorf("move legacy name reservation %s: %w", res.Key, err)
		}
		switch moved {
		case legacyMoved:
			out.Moved++
		case legacyForgotten:
			out.Forgotten++
		default:
			out.Left++
		}
	}
	if out.Left == 0 {
		h.legacyGone.Store(true)
	}
	return out, nil
}

type legacyOutcome int

const (
	legacyLeft legacyOutcome = iota
	legacyMoved
	legacyForgotten
)

func (h *CreateSecretHandler) moveLegacyName(ctx context.Context, orgID string, res reservation.Reservation) (legacyOutcome, error) {
	if res.Holder == "" {
		return legacyForgotten, h.names.Forget(ctx, res.Key) // released: a marker is left
	}
	ls, err := loadSecret(ctx, h.log, orgID, res.Holder)
	if err != nil {
		var de *domain.Error
		if errors.Is(err, eventstore.ErrErased) || errors.As(err, &de) {
			// Not a secret of a live organization (erased, or an id that is no
			// secret's): nothing can hold a name through it.
			return legacyForgotten, h.names.Forget(ctx, res.Key)
		}
		return legacyLeft, err
	}
	if ls.eventCount == 0 && h.now().Sub(res.Created) <= staleReservation {
		return legacyLeft, nil // its create may still be under way
	}
	if ls.eventCount == 0 || ls.secret.Deleted() {
		return legacyForgotten, h.names.Forget(ctx, res.Key)
	}
	key, err := h.names.Key(ctx, orgID, string(ls.secret.Name()))
	if err != nil {
		return legacyLeft, err
	}
	cur, err := h.names.Reserve(ctx, key, res.Holder)
	if err != nil && (!errors.Is(err, reservation.ErrReserved) || cur.Holder != res.Holder) {
		if errors.Is(err, reservation.ErrReserved) {
			return legacyLeft, nil
		}
		return legacyLeft, err
	}
	return legacyMoved, h.names.Forget(ctx, res.Key)
}
