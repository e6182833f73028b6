package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
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

// nameReservations are the name reservations earlier versions made (creates took
// random ids then): a create reads them, since one may still hold its name, and
// writes none; MoveLegacyNames moves the oldest kind.
type nameReservations interface {
	// Key is a name's reservation key in an organization: a keyed hash, never the name.
	Key(ctx context.Context, orgID, name string) (string, error)
	// Holder is who holds key, if anyone: reservations made by earlier versions,
	// which took random secret ids (creates derive them from the name now).
	Holder(ctx context.Context, key string) (reservation.Reservation, bool, error)
	// Quiet says whether the bucket holds no reservation, as far as this process
	// knows: none when it was opened, none written since. Holder need not be asked
	// (Release does not ask it then either).
	Quiet() bool
	Reserve(ctx context.Context, key, holder string) (reservation.Reservation, error)
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
// before it holds its name no more (its creator, on an earlier version, crashed
// mid-way).
const staleReservation = 30 * time.Second

// CreateSecretHandler handles CreateSecret.
type CreateSecretHandler struct {
	log   eventLog
	keys  valueKeys
	names nameReservations
	now   func() time.Time
	gens  generationHints
}

// NewCreateSecretHandler wires the handler.
func NewCreateSecretHandler(log eventLog, keys valueKeys, names nameReservations, now func() time.Time) *CreateSecretHandler {
	return &CreateSecretHandler{log: log, keys: keys, names: names, now: now}
}

// generationHints remembers, by name key, the newest generation of a name this process
// has seen created, so that a create of a name deleted many times starts there
// instead of trying every earlier id (nameSecretID). A generation's secret exists only
// once every earlier one was deleted, and a deleted secret stays deleted: a hint is
// never past the first free generation, and one that is behind (another replica
// created since, or the hint was dropped) only costs the ids in between. Names never
// deleted (generation 0) take no room. Bounded: past maxGenerationHints it starts over.
//
// The zero value is ready to use.
type generationHints struct {
	mu sync.Mutex
	m  map[string]int
}

const maxGenerationHints = 1 << 16

func (h *generationHints) get(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[key]
}

// saw records that generation g of key's name was created.
func (h *generationHints) saw(key string, g int) {
	if g == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxGenerationHints {
		h.m = map[string]int{}
	}
	h.m[key] = max(h.m[key], g)
}

func nameTaken(name domain.SecretName) error {
	return domain.Errorf(domain.CodeSecretNameTaken, "A secret named %q already exists in this organization.", string(name))
}

// maxGenerations bounds how many times one name can be deleted and created again:
// each generation is a secret of its own (nameSecretID), found by trying them in turn.
const maxGenerations = 10_000

// nameSecretID is the id of the secret that holds name in its organization at
// generation g (its number of earlier secrets of that name, deleted since): derived
// from the name's keyed hash (Key), so that the log itself keeps names unique. A
// create appends SecretCreated expecting the id's subject to be empty, and the second
// of two creators of one name finds it taken: no reservation to write and sync first
// (it was a third of a create). The id says nothing of the name without the
// organization's name key, which erasure destroys.
func nameSecretID(key string, g int) string {
	return derivedID("secret-name", key, strconv.Itoa(g))
}

// Handle appends SecretCreated to the secret its name and generation derive
// (nameSecretID): the first generation whose secret was never created, after those
// whose secrets were deleted. A name that a reservation of an earlier version still
// holds for a live secret is taken. With an idempotency key, a retry finds its first
// result in the log (the name's secrets' events carry the key's mark).
func (h *CreateSecretHandler) Handle(ctx context.Context, m Meta, c CreateSecret) (SecretResult, error) {
	lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
	if err != nil {
		return SecretResult{}, err
	}
	orgID := lo.org.ID()
	in := domain.NewSecretInput{Name: c.Name, Description: c.Description, OwnerID: m.UserID, Values: c.Values}
	name, err := domain.ParseSecretName(c.Name)
	if err != nil {
		// The decision refuses it (or refuses the caller first): no id to derive.
		_, err := domain.CreateSecret(ctx, p, orgID, uuid.NewString(), in, h.keys)
		return SecretResult{}, recordDenied(ctx, h.log, m, c.OrgID, domain.AuditSecretCreated, "", "", err)
	}
	key, err := h.names.Key(ctx, orgID, string(name))
	if err != nil {
		return SecretResult{}, err
	}
	g, taken := h.gens.get(key), false
	if m.IdempotencyKey != "" {
		// A retry whose first attempt created the secret replays it, before the
		// decision (a replay re-checks membership, not the decision); the key's first
		// result may be in any generation.
		for g = 0; g < maxGenerations; g++ {
			ls, err := loadSecret(ctx, h.log, orgID, nameSecretID(key, g))
			if err != nil {
				return SecretResult{}, err
			}
			if res, ok, err := ls.replay(ctx, h.log, m, lo, p, nameSecretID(key, g)); ok || err != nil {
				return res, err
			}
			if taken = ls.eventCount > 0 && !ls.secret.Deleted(); taken || ls.eventCount == 0 {
				break
			}
		}
	}
	// The decision decides everything (authorization, name, description, values)
	// before anything is written, and seals the values for the generation's id.
	ev, err := h.decide(ctx, m, p, orgID, key, g, in)
	if err != nil {
		return SecretResult{}, err
	}
	if taken {
		return SecretResult{}, nameTaken(name)
	}
	if err := h.earlierHolderGone(ctx, orgID, key, name); err != nil {
		return SecretResult{}, err
	}
	for {
		id := nameSecretID(key, g)
		recs, err := h.create(ctx, m, orgID, id, ev)
		if err == nil {
			h.gens.saw(key, g)
			s := domain.NewSecret(orgID, id)
			for _, r := range recs {
				s.Apply(r)
			}
			return secretResult(ctx, h.log, lo, p, s, Result{Seq: recs.Seq(), ID: id}), nil
		}
		if !errors.Is(err, eventstore.ErrVersionConflict) {
			return SecretResult{}, err
		}
		// This generation's secret exists: the name is taken, unless it was deleted.
		ls, err := loadSecret(ctx, h.log, orgID, id)
		if err != nil {
			return SecretResult{}, err
		}
		if res, ok, err := ls.replay(ctx, h.log, m, lo, p, id); ok || err != nil {
			return res, err
		}
		if !ls.secret.Deleted() {
			h.gens.saw(key, g)
			return SecretResult{}, nameTaken(name)
		}
		g++
		if ev, err = h.decide(ctx, m, p, orgID, key, g, in); err != nil {
			return SecretResult{}, err
		}
	}
}

// decide makes the SecretCreated of generation g's secret (its values sealed for that
// id), or the refusal, audited when the policy refuses.
func (h *CreateSecretHandler) decide(ctx context.Context, m Meta, p domain.Principal, orgID, key string, g int, in domain.NewSecretInput) (domain.SecretCreated, error) {
	if g >= maxGenerations {
		return domain.SecretCreated{}, fmt.Errorf("create secret: the name was deleted and created again %d times", g)
	}
	ev, err := domain.CreateSecret(ctx, p, orgID, nameSecretID(key, g), in, h.keys)
	if err != nil {
		return domain.SecretCreated{}, recordDenied(ctx, h.log, m, orgID, domain.AuditSecretCreated, "", "", err)
	}
	return ev, nil
}

// earlierHolderGone refuses a name that a reservation of an earlier version holds for
// a secret that is not gone: before secret ids derived from names, a create reserved
// the name under its keyed hash (or, earlier still, a bare hash in the legacy bucket)
// and took a random id. A reservation whose secret was deleted, or never created
// (its creator crashed) and is old, holds nothing.
func (h *CreateSecretHandler) earlierHolderGone(ctx context.Context, orgID, key string, name domain.SecretName) error {
	holders := make([]reservation.Reservation, 0, 2)
	if !h.names.Quiet() { // else no earlier version reserved anything here
		cur, ok, err := h.names.Holder(ctx, key)
		if err != nil {
			return err
		}
		if ok {
			holders = append(holders, cur)
		}
	}
	if cur, ok, err := h.names.LegacyHolder(ctx, orgID, string(name)); err != nil {
		return err
	} else if ok {
		holders = append(holders, cur)
	}
	for _, cur := range holders {
		ls, err := loadSecret(ctx, h.log, orgID, cur.Holder)
		if err != nil {
			return err
		}
		gone := ls.secret.Deleted() || (ls.eventCount == 0 && h.now().Sub(cur.Created) > staleReservation)
		if !gone {
			return nameTaken(name)
		}
	}
	return nil
}

func (h *CreateSecretHandler) create(ctx context.Context, m Meta, orgID, id string, ev domain.SecretCreated) (eventstore.Appended, error) {
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: secretAggregate(orgID, id), ExpectedSeq: 0, Position: 1,
		Events: []domain.Event{ev}, Actor: m.actor(), MsgID: m.msgID("create_secret", orgID), Idempotency: m.mark(),
	})
	if err != nil {
		return nil, fmt.Errorf("create secret: %w", err)
	}
	if len(recs) == 0 || recs[0].AggregateID != id {
		// The log already held this key's message id, for another secret: the key's
		// first request was another (its binding in the idempotency store was lost).
		return nil, errKeyReused()
	}
	return recs, nil
}
