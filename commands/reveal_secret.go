package commands

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

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
	// snapshots, when set, is the read models' copy of secrets, which a reveal of a
	// secret not in the aggregate cache decides on once the log confirms it is current.
	snapshots revealSnapshots
	// known is the newest checkpoint a copy has reflected: the read models have reached
	// it, so the next reveal's look at the log may begin from it while the copy is
	// read (confirmedCopyFrom).
	known *atomic.Uint64
}

// revealSnapshots is the read-model query a reveal decides on (projections.Secrets):
// the secret's owner and env's current value, with the checkpoint they reflect, or
// ok=false when the read models hold no such secret.
type revealSnapshots interface {
	RevealSnapshot(ctx context.Context, orgID, secretID string, env domain.Environment) (snap domain.RevealSnapshot, checkpoint uint64, ok bool, err error)
}

// NewRevealSecretHandler wires the handler.
func NewRevealSecretHandler(log eventLog, keys valueKeys) *RevealSecretHandler {
	return &RevealSecretHandler{log: log, keys: keys}
}

// WithSnapshots returns the handler deciding reveals of secrets that are not in the
// aggregate cache on s's copies, as far as the log confirms them (see fromSnapshot).
func (h *RevealSecretHandler) WithSnapshots(s revealSnapshots) *RevealSecretHandler {
	c := *h
	c.snapshots = s
	c.known = new(atomic.Uint64)
	return &c
}

// Handle checks the policy against the log's current state, records the reveal (or the
// refusal) as an event, and only then opens the value: no reveal goes unaudited.
func (h *RevealSecretHandler) Handle(ctx context.Context, m Meta, c RevealSecret) (Revealed, error) {
	// The read models' copy of the secret is read while the caller's membership is
	// checked: two looks that do not depend on each other, each a shared round trip
	// (about 1 and 2 ms under load), one after the other before. Nothing of the copy
	// is used before the caller is known to be a member.
	early := h.readCopy(ctx, c)
	lo, p, err := memberPrincipal(ctx, h.log, m, c.OrgID)
	if err != nil {
		return Revealed{}, err
	}
	vv, decided, err := h.fromSnapshot(ctx, lo, p, c, early)
	// A copy the reveal decided on is of a secret that exists.
	exists := decided
	if !decided {
		ls, lerr := memberSecret(ctx, h.log, m, c.OrgID, c.SecretID, false, nil)
		if lerr != nil {
			return Revealed{}, lerr
		}
		vv, err = ls.secret.Reveal(p, lo.org.RevealPolicy(), c.Env)
		exists = ls.secret.Exists()
		// The decision is made: the secret's turn is not held over the audit append.
		ls.release()
	}
	if err != nil {
		if exists && p.IsMember() && domain.IsCode(err, domain.CodeNotFound) {
			// The policy allowed the reveal and env has no value (the one not_found of
			// an existing secret for a member): still a reveal, and API.md audits every
			// reveal, allowed or denied. It showed nothing, so it is recorded as an
			// attempt (outcome denied, code not_found), never as a success.
			return Revealed{}, recordRefusal(ctx, h.log, m, c.OrgID, domain.AuditSecretRevealed, c.SecretID, c.Env, err)
		}
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

// snapshotReadTimeout bounds the read of a reveal's snapshot: read models that do not
// answer in time (PostgreSQL partitioned away, or swamped) cost a reveal this much, not
// the request's whole time, and the log answers instead.
const snapshotReadTimeout = time.Second

// fromSnapshot decides a reveal of a secret that the aggregate cache does not hold on
// the read models' copy of it, when the log holds no event of the secret after the
// checkpoint the copy reflects: the copy is then the secret's current state, as
// loading its history would give, at the cost of one row and one look at the log's
// newest blocks. (Loading the history of one of 100,000 secrets instead read its 8 MB
// message block into the log server's cache, where random reveals kept the whole log.)
// decided is false when the copy cannot be used — no snapshots, a cached secret, no
// row (deleted, not projected yet, no such secret), a newer event, or a failed read —
// and the caller then decides on the log as before, which says what went wrong, if
// anything did.
func (h *RevealSecretHandler) fromSnapshot(ctx context.Context, lo loadedOrg, p domain.Principal, c RevealSecret, early <-chan confirmedReveal) (vv domain.ValueVersion, decided bool, err error) {
	if early == nil {
		return domain.ValueVersion{}, false, nil
	}
	var got confirmedReveal
	select {
	case got = <-early:
	case <-ctx.Done():
		return domain.ValueVersion{}, false, nil
	}
	if !got.ok {
		return domain.ValueVersion{}, false, nil
	}
	vv, err = got.snap.Reveal(p, lo.org.RevealPolicy(), c.Env)
	return vv, true, err
}

// confirmedReveal is the read models' copy of a secret for a reveal; ok says the log
// confirmed it (confirmedCopy).
type confirmedReveal struct {
	snap domain.RevealSnapshot
	ok   bool
}

// readCopy starts reading the copy fromSnapshot decides on, and returns where it will
// be: nil when there is no copy to use (no snapshots, or the cache holds the secret).
func (h *RevealSecretHandler) readCopy(ctx context.Context, c RevealSecret) <-chan confirmedReveal {
	cl, ok := h.log.(*cachedLog)
	agg := secretAggregate(c.OrgID, c.SecretID)
	if h.snapshots == nil || !ok || cl.secrets.holds(agg) {
		return nil
	}
	out := make(chan confirmedReveal, 1)
	go func() {
		snap, checkpoint, ok := confirmedCopyFrom(ctx, cl, agg, h.known.Load(), func(ctx context.Context) (domain.RevealSnapshot, uint64, bool, error) {
			return h.snapshots.RevealSnapshot(ctx, c.OrgID, c.SecretID, c.Env)
		})
		for k := h.known.Load(); checkpoint > k && !h.known.CompareAndSwap(k, checkpoint); k = h.known.Load() {
		}
		out <- confirmedReveal{snap: snap, ok: ok}
	}()
	return out
}
