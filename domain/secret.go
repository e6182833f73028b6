package domain

import (
	"slices"
	"time"
)

// Secret is the aggregate of one secret: its name, description, owner and an
// independent, versioned value per environment.
type Secret struct {
	id          string
	orgID       string
	name        SecretName
	description string
	ownerID     string
	createdAt   time.Time
	updatedAt   time.Time
	version     int
	exists      bool
	deleted     bool
	values      map[Environment]*envValue
}

type envValue struct {
	set       bool
	current   ValueVersion
	updatedAt time.Time
	last      int
	history   map[int]ValueVersion
}

// NewSecret returns an empty secret aggregate, ready to replay its events into.
func NewSecret(orgID, id string) *Secret {
	return &Secret{id: id, orgID: orgID, values: map[Environment]*envValue{}}
}

// Getters expose the state the commands and tests need; fields stay unexported so that
// only Apply changes them.
func (s *Secret) ID() string           { return s.id }
func (s *Secret) OrgID() string        { return s.orgID }
func (s *Secret) Name() SecretName     { return s.name }
func (s *Secret) Description() string  { return s.description }
func (s *Secret) OwnerID() string      { return s.ownerID }
func (s *Secret) Version() int         { return s.version }
func (s *Secret) Exists() bool         { return s.exists && !s.deleted }
func (s *Secret) CreatedAt() time.Time { return s.createdAt }
func (s *Secret) UpdatedAt() time.Time { return s.updatedAt }
func (s *Secret) Deleted() bool        { return s.deleted }

// Value returns the current value version in env, and whether one is set.
func (s *Secret) Value(env Environment) (ValueVersion, bool) {
	v := s.values[env]
	if v == nil || !v.set {
		return ValueVersion{}, false
	}
	return v.current, true
}

// ValueUpdatedAt is when env's value was last set or removed (zero if never).
func (s *Secret) ValueUpdatedAt(env Environment) time.Time {
	if v := s.values[env]; v != nil {
		return v.updatedAt
	}
	return time.Time{}
}

// ValueAt returns the given historical version of env's value.
func (s *Secret) ValueAt(env Environment, version int) (ValueVersion, bool) {
	v := s.values[env]
	if v == nil {
		return ValueVersion{}, false
	}
	vv, ok := v.history[version]
	return vv, ok
}

// NextValueVersion is the version the next value set in env will get: a removed value
// keeps counting when set again.
func (s *Secret) NextValueVersion(env Environment) int {
	if v := s.values[env]; v != nil {
		return v.last + 1
	}
	return 1
}

// NewSecretInput is what creating a secret needs. Values are already sealed, each at
// version 1.
type NewSecretInput struct {
	Name        SecretName
	Description string
	OwnerID     string
	Values      map[Environment]ValueVersion
}

// CreateSecret decides whether p may create the secret described by in.
func CreateSecret(p Principal, in NewSecretInput) (Event, error) {
	if err := Authorize(p, ActionCreate, Target{}); err != nil {
		return nil, err
	}
	name, err := ParseSecretName(string(in.Name))
	if err != nil {
		return nil, err
	}
	in.Name = name
	if err := ValidateDescription(in.Description); err != nil {
		return nil, err
	}
	for env, v := range in.Values {
		if err := knownEnvironment(env); err != nil {
			return nil, err
		}
		if v.Version != 1 {
			return nil, Invalid("values."+string(env), "a new secret's values start at version 1")
		}
	}
	return SecretCreated(in), nil
}

// SecretChange is an update of a secret. Set holds sealed values at their next
// versions, already stripped of values equal to the current ones; Remove lists the
// environments whose value is removed.
type SecretChange struct {
	Description     *string
	Set             map[Environment]ValueVersion
	Remove          []Environment
	ExpectedVersion *int
}

// knownEnvironment rejects a value for an environment outside the three fixed ones, so
// that no such value is ever recorded in the log.
func knownEnvironment(env Environment) error {
	if _, err := ParseEnvironment(string(env)); err != nil {
		return Invalid("values."+string(env), "must be one of development, staging, production")
	}
	return nil
}

func (s *Secret) mustExist() error {
	if !s.Exists() {
		return Errorf(CodeNotFound, "The secret was not found.")
	}
	return nil
}

func (s *Secret) target(policy RevealPolicy) Target {
	return Target{OwnerID: s.ownerID, RevealPolicy: policy}
}

// Update decides a change. It returns no event when nothing would change.
func (s *Secret) Update(p Principal, c SecretChange) ([]Event, error) {
	if err := s.mustExist(); err != nil {
		return nil, err
	}
	if err := Authorize(p, ActionModify, s.target(RevealAllowed)); err != nil {
		return nil, err
	}
	if c.ExpectedVersion != nil && *c.ExpectedVersion != s.version {
		return nil, Errorf(CodeVersionConflict, "The secret was changed by someone else (version %d, expected %d).", s.version, *c.ExpectedVersion)
	}
	var ev SecretUpdated
	if c.Description != nil && *c.Description != s.description {
		if err := ValidateDescription(*c.Description); err != nil {
			return nil, err
		}
		d := *c.Description
		ev.Description = &d
	}
	for env, v := range c.Set {
		if err := knownEnvironment(env); err != nil {
			return nil, err
		}
		if v.Version != s.NextValueVersion(env) {
			return nil, Errorf(CodeVersionConflict, "The %s value was changed by someone else.", env)
		}
		if ev.Set == nil {
			ev.Set = map[Environment]ValueVersion{}
		}
		ev.Set[env] = v
	}
	for _, env := range c.Remove {
		if _, set := s.Value(env); set && !slices.Contains(ev.Removed, env) {
			ev.Removed = append(ev.Removed, env)
		}
	}
	if ev.Description == nil && len(ev.Set) == 0 && len(ev.Removed) == 0 {
		return nil, nil
	}
	return []Event{ev}, nil
}

// DeleteValue decides removing the value in one environment.
func (s *Secret) DeleteValue(p Principal, env Environment) (Event, error) {
	if err := s.mustExist(); err != nil {
		return nil, err
	}
	if err := Authorize(p, ActionDelete, s.target(RevealAllowed)); err != nil {
		return nil, err
	}
	cur, ok := s.Value(env)
	if !ok {
		return nil, Errorf(CodeNotFound, "The secret has no %s value.", env)
	}
	return SecretValueDeleted{Env: env, Version: cur.Version}, nil
}

// Delete decides removing the whole secret.
func (s *Secret) Delete(p Principal) (Event, error) {
	if err := s.mustExist(); err != nil {
		return nil, err
	}
	if err := Authorize(p, ActionDelete, s.target(RevealAllowed)); err != nil {
		return nil, err
	}
	return SecretDeleted{Name: s.name}, nil
}

// Rollback decides setting env's value to a copy of an earlier version. resealed is
// that old value sealed again for the next version.
func (s *Secret) Rollback(p Principal, env Environment, from int, resealed ValueVersion) (Event, error) {
	if err := s.mustExist(); err != nil {
		return nil, err
	}
	if err := Authorize(p, ActionModify, s.target(RevealAllowed)); err != nil {
		return nil, err
	}
	if _, ok := s.ValueAt(env, from); !ok {
		return nil, Errorf(CodeNotFound, "The %s value has no version %d.", env, from)
	}
	if resealed.Version != s.NextValueVersion(env) {
		return nil, Errorf(CodeVersionConflict, "The %s value was changed by someone else.", env)
	}
	return SecretRolledBack{Env: env, FromVersion: from, Value: resealed}, nil
}

// Reveal decides whether p may see env's current value, and returns it sealed.
func (s *Secret) Reveal(p Principal, policy RevealPolicy, env Environment) (ValueVersion, error) {
	if err := s.mustExist(); err != nil {
		return ValueVersion{}, err
	}
	if err := Authorize(p, ActionReveal, s.target(policy)); err != nil {
		return ValueVersion{}, err
	}
	cur, ok := s.Value(env)
	if !ok {
		return ValueVersion{}, Errorf(CodeNotFound, "The secret has no %s value.", env)
	}
	return cur, nil
}

// Apply changes the secret's state by one recorded event. It is the only code that
// mutates a Secret; loading replays it.
func (s *Secret) Apply(r Recorded) {
	switch e := r.Event.(type) {
	case SecretCreated:
		*s = Secret{id: s.id, orgID: s.orgID, values: map[Environment]*envValue{}}
		s.exists, s.name, s.description, s.ownerID = true, e.Name, e.Description, e.OwnerID
		s.createdAt = r.Time
		for env, v := range e.Values {
			s.setValue(env, v, r.Time)
		}
	case SecretUpdated:
		if e.Description != nil {
			s.description = *e.Description
		}
		for env, v := range e.Set {
			s.setValue(env, v, r.Time)
		}
		for _, env := range e.Removed {
			s.removeValue(env, r.Time)
		}
	case SecretValueDeleted:
		s.removeValue(e.Env, r.Time)
	case SecretRolledBack:
		s.setValue(e.Env, e.Value, r.Time)
	case SecretDeleted:
		s.deleted = true
	default:
		return
	}
	s.version++
	s.updatedAt = r.Time
}

func (s *Secret) setValue(env Environment, v ValueVersion, at time.Time) {
	ev := s.values[env]
	if ev == nil {
		ev = &envValue{history: map[int]ValueVersion{}}
		s.values[env] = ev
	}
	ev.set, ev.current, ev.updatedAt = true, v, at
	ev.last = max(ev.last, v.Version)
	ev.history[v.Version] = v
}

func (s *Secret) removeValue(env Environment, at time.Time) {
	if ev := s.values[env]; ev != nil {
		ev.set, ev.updatedAt = false, at
	}
}
