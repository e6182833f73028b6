package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/reservation"
)

// CreateSecret creates a secret with optional values per environment.
type CreateSecret struct {
	OrgID       string
	Name        string
	Description string
	Values      map[domain.Environment]domain.Plaintext
}

// nameReservations keeps secret names unique per organization.
type nameReservations interface {
	// Key is a name's reservation key in an organization: a keyed hash, never the name.
	Key(ctx context.Context, orgID, name string) (string, error)
	Reserve(ctx context.Context, key, holder string) (reservation.Reservation, error)
	TakeOver(ctx context.Context, stale reservation.Reservation, holder string) (reservation.Reservation, error)
	Release(ctx context.Context, key, holder string) error
	// LegacyHolder, Legacy and DropLegacy serve the reservations earlier versions made
	// under bare hashes, in a bucket of their own, until MoveLegacyNames has moved
	// them: a live one still holds its name. Once the bucket is gone (or was never
	// there) LegacyHolder answers without asking NATS.
	LegacyHolder(ctx context.Context, orgID, name string) (reservation.Reservation, bool, error)
	Legacy(ctx context.Context) ([]reservation.Reservation, error)
	DropLegacy(ctx context.Context) error
}

// staleReservation is how old a reservation whose secret never got created must be
// before another creator may take the name over (its creator crashed mid-way).
const staleReservation = 30 * time.Second

// CreateSecretHandler handles CreateSecret.
type CreateSecretHandler struct {
	log   eventLog
	keys  valueKeys
	names nameReservations
	now   func() time.Time
}

// NewCreateSecretHandler wires the handler.
func NewCreateSecretHandler(log eventLog, keys valueKeys, names nameReservations, now func() time.Time) *CreateSecretHandler {
	return &CreateSecretHandler{log: log, keys: keys, names: names, now: now}
}

func nameTaken(name domain.SecretName) error {
	return domain.Errorf(domain.CodeSecretNameTaken, "A secret named %q already exists in this organization.", string(name))
}

// Handle reserves the name atomically, seals each value on its own and appends
// SecretCreated; if the append fails the name is released again. With an idempotency
// key the secret's id derives from it, so a retry finds its first result in the log.
func (h *CreateSecretHandler) Handle(ctx context.Context, m Meta, c CreateSecret) (SecretResult, error) {
	lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
	if err != nil {
		return SecretResult{}, err
	}
	id := uuid.NewString()
	if m.IdempotencyKey != "" {
		id = derivedID("secret", lo.org.ID(), m.UserID, m.IdempotencyKey)
		ls, err := loadSecret(ctx, h.log, lo.org.ID(), id)
		if err != nil {
			return SecretResult{}, err
		}
		if seq, ok, err := m.replayed(ls.events); ok || err != nil {
			if err != nil {
				return SecretResult{}, err
			}
			return ls.replayedResult(ctx, h.log, lo, p, seq, id)
		}
	}
	// The domain decides everything (authorization, name, description, values) before
	// the name is reserved: a refused attempt reserves nothing.
	ev, err := domain.CreateSecret(ctx, p, lo.org.ID(), id, domain.NewSecretInput{
		Name: c.Name, Description: c.Description, OwnerID: m.UserID, Values: c.Values,
	}, h.keys)
	if err != nil {
		return SecretResult{}, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditSecretCreated, "", "", err)
	}
	name := ev.Name
	key, err := h.names.Key(ctx, lo.org.ID(), string(name))
	if err != nil {
		return SecretResult{}, err
	}
	if err := h.reserve(ctx, lo.org.ID(), key, id, name); err != nil {
		return SecretResult{}, err
	}
	var recs eventstore.Appended
	err = h.legacyFree(ctx, lo.org.ID(), id, name)
	if err == nil {
		recs, err = h.create(ctx, m, lo.org.ID(), id, ev)
	}
	if err != nil {
		if rerr := h.names.Release(context.WithoutCancel(ctx), key, id); rerr != nil {
			return SecretResult{}, errors.Join(err, rerr)
		}
		return SecretResult{}, err
	}
	s := domain.NewSecret(lo.org.ID(), id)
	for _, r := range recs {
		s.Apply(r)
	}
	return secretResult(ctx, h.log, lo, p, s, Result{Seq: recs.Seq(), ID: id}), nil
}

func (h *CreateSecretHandler) reserve(ctx context.Context, orgID, key, id string, name domain.SecretName) error {
	cur, err := h.names.Reserve(ctx, key, id)
	if err == nil || (errors.Is(err, reservation.ErrReserved) && cur.Holder == id) {
		return nil
	}
	if !errors.Is(err, reservation.ErrReserved) {
		return err
	}
	// Someone holds the name: it is free again only if their secret is gone, or was
	// never created and the reservation is old.
	ls, err := loadSecret(ctx, h.log, orgID, cur.Holder)
	if err != nil {
		return err
	}
	stale := ls.secret.Deleted() || (ls.eventCount == 0 && h.now().Sub(cur.Created) > staleReservation)
	if !stale {
		return nameTaken(name)
	}
	if _, err := h.names.TakeOver(ctx, cur, id); err != nil {
		if errors.Is(err, reservation.ErrReserved) {
			return nameTaken(name)
		}
		return err
	}
	return nil
}

// legacyFree checks, once the name's keyed reservation is id's, that no secret still
// holds the name in the legacy bucket (a bare hash, from before reservation keys were
// keyed, not yet moved by MoveLegacyNames). The keyed key stays the one point where
// two creators race, so this only ever refuses.
func (h *CreateSecretHandler) legacyFree(ctx context.Context, orgID, id string, name domain.SecretName) error {
	cur, ok, err := h.names.LegacyHolder(ctx, orgID, string(name))
	if err != nil || !ok || cur.Holder == id {
		return err
	}
	ls, err := loadSecret(ctx, h.log, orgID, cur.Holder)
	if err != nil {
		return err
	}
	if ls.eventCount > 0 && !ls.secret.Deleted() {
		return nameTaken(name)
	}
	return nil
}

func (h *CreateSecretHandler) create(ctx context.Context, m Meta, orgID, id string, ev domain.SecretCreated) (eventstore.Appended, error) {
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: secretAggregate(orgID, id), ExpectedSeq: 0, Position: 1,
		Events: []domain.Event{ev}, Actor: m.actor(), MsgID: m.msgID("create_secret", orgID), Idempotency: m.mark(),
	})
	if errors.Is(err, eventstore.ErrVersionConflict) {
		return nil, nameTaken(ev.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("create secret: %w", err)
	}
	return recs, nil
}
