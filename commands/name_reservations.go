package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// LegacyNames is what MoveLegacyNames did: legacy reservations moved to their keyed
// key, dropped (their secret gone, or their organization erased), and left for a
// later run (a create still under way, or a name someone else holds under its keyed
// key — a create's still under way); Dropped says whether the legacy bucket was
// deleted.
type LegacyNames struct {
	Moved, Forgotten, Left int
	Dropped                bool
}

// MoveLegacyNames moves every reservation of the legacy bucket (keyed by a bare
// SHA-256 of organization and name, which a dictionary confirms and which outlived
// erasure) into the keyed bucket, then deletes the legacy bucket, files and all. A
// reservation whose secret is gone, or whose organization is erased, is not moved.
// When one has to be left for later, the legacy bucket stays (and keeps holding its
// names) until a later run. It is idempotent, and a no-op once the legacy bucket is
// gone: serve runs it at every start.
func (h *CreateSecretHandler) MoveLegacyNames(ctx context.Context) (LegacyNames, error) {
	var out LegacyNames
	legacy, err := h.names.Legacy(ctx)
	if err != nil {
		return out, err
	}
	for _, res := range legacy {
		moved, err := h.moveLegacyName(ctx, reservation.KeyScope(res.Key), res)
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
	if out.Left > 0 {
		return out, nil
	}
	if err := h.names.DropLegacy(ctx); err != nil {
		return out, err
	}
	out.Dropped = len(legacy) > 0
	return out, nil
}

type legacyOutcome int

const (
	legacyLeft legacyOutcome = iota
	legacyMoved
	legacyForgotten
)

func (h *CreateSecretHandler) moveLegacyName(ctx context.Context, orgID string, res reservation.Reservation) (legacyOutcome, error) {
	ls, err := loadSecret(ctx, h.log, orgID, res.Holder)
	if err != nil {
		var de *domain.Error
		if errors.Is(err, eventstore.ErrErased) || errors.As(err, &de) {
			// Not a secret of a live organization (erased, or an id that is no
			// secret's): nothing holds a name through it.
			return legacyForgotten, nil
		}
		return legacyLeft, err
	}
	if ls.eventCount == 0 && h.now().Sub(res.Created) <= staleReservation {
		return legacyLeft, nil // its create may still be under way
	}
	if ls.eventCount == 0 || ls.secret.Deleted() {
		return legacyForgotten, nil
	}
	key, err := h.names.Key(ctx, orgID, string(ls.secret.Name()))
	if err != nil {
		return legacyLeft, err
	}
	cur, err := h.names.Reserve(ctx, key, res.Holder)
	switch {
	case err == nil, errors.Is(err, reservation.ErrReserved) && cur.Holder == res.Holder:
		return legacyMoved, nil
	case errors.Is(err, reservation.ErrReserved):
		// Another secret holds the name under its keyed key (a create on an older
		// replica that did not look there): the name stays taken, by that one.
		return legacyForgotten, nil
	default:
		return legacyLeft, err
	}
}
