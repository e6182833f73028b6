package domain

import (
	"errors"
	"time"
)

// SecretSnapshot is a secret's current state as a copy kept outside the log holds it
// (the read models' row at a checkpoint): everything a change of the secret decides on
// and answers with, but not the earlier versions of its values. A write to a secret
// that is not in memory decides on it instead of replaying the secret's history (see
// commands' aggregate cache), once the log confirms that the copy is current.
type SecretSnapshot struct {
	Name        SecretName
	Description string
	OwnerID     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Version is how many events the secret has, as Secret.Version counts them.
	Version int
	// Values holds every environment that ever had a value.
	Values map[Environment]ValueSnapshot
}

// ValueSnapshot is one environment's value in a SecretSnapshot: the current version
// when Set, else the version that was removed (the next one counts on from it).
type ValueSnapshot struct {
	Value     ValueVersion
	Set       bool
	UpdatedAt time.Time
}

// ErrPartialHistory means a decision needs earlier value versions that a secret
// restored from a snapshot does not hold: the caller must replay the secret's history
// instead. It is an internal error, never an answer to a request.
var ErrPartialHistory = errors.New("domain: the secret was restored from a snapshot without its value history")

// RestoreSecret returns the secret in the state snap describes, as replaying its
// history would leave it, except that each value's history holds its current version
// only: decisions that read older versions (Rollback) refuse it with
// ErrPartialHistory. Apply moves it on like any other secret.
func RestoreSecret(orgID, id string, snap SecretSnapshot) *Secret {
	s := &Secret{
		id: id, orgID: orgID, name: snap.Name, description: snap.Description, ownerID: snap.OwnerID,
		createdAt: snap.CreatedAt, updatedAt: snap.UpdatedAt, version: snap.Version, exists: true,
		values: make(map[Environment]*envValue, len(snap.Values)), partial: true,
	}
	for env, v := range snap.Values {
		s.values[env] = &envValue{
			set: v.Set, current: v.Value, updatedAt: v.UpdatedAt, last: v.Value.Version,
			history: []ValueVersion{v.Value},
		}
	}
	return s
}

// Partial tells whether the secret was restored from a snapshot and lacks its value
// history (see RestoreSecret).
func (s *Secret) Partial() bool { return s.partial }
