package domain

import (
	"context"
	"errors"
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
	// partial says the secret was restored from a copy of its current state
	// (RestoreSecret), not replayed from its events: its values' earlier versions are
	// not at hand, and only decisions on the current state may be made on it.
	partial bool
}

type envValue struct {
	set       bool
	current   ValueVersion
	updatedAt time.Time
	last      int
	// history holds every version of the value, ascending by version, shared with
	// clones (valueHistory).
	history valueHistory
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
	return v.history.find(version)
}

// NextValueVersion is the version the next value set in env will get: a removed value
// keeps counting when set again.
func (s *Secret) NextValueVersion(env Environment) int {
	if v := s.values[env]; v != nil {
		return v.last + 1
	}
	return 1
}

// NewSecretInput is what creating a secret needs: the name as typed, and each
// environment's value in clear (the decision seals it, at version 1).
type NewSecretInput struct {
	Name        string
	Description string
	OwnerID     string
	Values      map[Environment]Plaintext
}

// CreateSecret decides whether p may create the secret described by in, as secret id
// of organization orgID: authorization first (a refusal says nothing about the
// input), then the name, description and values, each sealed through sealer.
func CreateSecret(ctx context.Context, p Principal, orgID, id string, in NewSecretInput, sealer ValueSealer) (SecretCreated, error) {
	if err := Authorize(p, ActionCreate, Target{}); err != nil {
		return SecretCreated{}, err
	}
	name, err := ParseSecretName(in.Name)
	if err != nil {
		return SecretCreated{}, err
	}
	if err := ValidateDescription(in.Description); err != nil {
		return SecretCreated{}, err
	}
	ev := SecretCreated{Name: name, Description: in.Description, OwnerID: in.OwnerID}
	if len(in.Values) > 0 {
		ev.Values = make(map[Environment]ValueVersion, len(in.Values))
	}
	for _, env := range sortedEnvironments(in.Values) {
		v := in.Values[env]
		if err := knownEnvironment(env); err != nil {
			return SecretCreated{}, err
		}
		if err := ValidateValue(env, v); err != nil {
			return SecretCreated{}, err
		}
		if ev.Values[env], err = sealNew(ctx, sealer, orgID, id, env, 1, v); err != nil {
			return SecretCreated{}, err
		}
	}
	return ev, nil
}

// sortedEnvironments lists a map's environments in a fixed order, so that a decision
// that refuses one of several values always names the same one.
func sortedEnvironments[V any](m map[Environment]V) []Environment {
	envs := make([]Environment, 0, len(m))
	for env := range m {
		envs = append(envs, env)
	}
	slices.Sort(envs)
	return envs
}

// SecretChange is an update of a secret as the caller asks it: a new description, and
// per environment a new value in clear (a nil value removes that environment's value).
// Environments not in Values are left as they are.
type SecretChange struct {
	Description     *string
	Values          map[Environment]*Plaintext
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

// Update decides a change. A value equal to the current one is not a change and gets
// no new version; the decision returns no event when nothing would change. New values
// are sealed through sealer for their next versions.
func (s *Secret) Update(ctx context.Context, p Principal, c SecretChange, sealer ValueSealer) ([]Event, error) {
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
	for _, env := range sortedEnvironments(c.Values) {
		if err := knownEnvironment(env); err != nil {
			return nil, err
		}
		v := c.Values[env]
		if v == nil {
			if _, set := s.Value(env); set {
				ev.Removed = append(ev.Removed, env)
			}
			continue
		}
		if err := ValidateValue(env, *v); err != nil {
			return nil, err
		}
		same, err := s.holds(ctx, sealer, env, *v)
		if err != nil {
			return nil, err
		}
		if same {
			continue
		}
		sealed, err := sealNew(ctx, sealer, s.orgID, s.id, env, s.NextValueVersion(env), *v)
		if err != nil {
			return nil, err
		}
		if ev.Set == nil {
			ev.Set = map[Environment]ValueVersion{}
		}
		ev.Set[env] = sealed
	}
	if ev.Description == nil && len(ev.Set) == 0 && len(ev.Removed) == 0 {
		return nil, nil
	}
	return []Event{ev}, nil
}

// holds reports whether env's current value is v.
func (s *Secret) holds(ctx context.Context, sealer ValueSealer, env Environment, v Plaintext) (bool, error) {
	cur, ok := s.Value(env)
	if !ok {
		return false, nil
	}
	old, err := sealer.OpenValue(ctx, ValueRef{OrgID: s.orgID, SecretID: s.id, Env: env, ValueVersion: cur.Version}, cur.Sealed)
	if err != nil {
		return false, err
	}
	return old.Reveal() == v.Reveal(), nil
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

// Rollback decides setting env's value to a copy of an earlier version: the old value
// is opened and sealed again as the next version (history is never rewritten). It
// needs the value history: a secret restored from its current state (RestoreSecret)
// cannot decide it, and says so rather than answer that a version does not exist.
func (s *Secret) Rollback(ctx context.Context, p Principal, env Environment, from int, sealer ValueSealer) (Event, error) {
	if err := s.mustExist(); err != nil {
		return nil, err
	}
	if s.partial {
		return nil, ErrNoValueHistory
	}
	if err := Authorize(p, ActionModify, s.target(RevealAllowed)); err != nil {
		return nil, err
	}
	old, ok := s.ValueAt(env, from)
	if !ok {
		return nil, Errorf(CodeNotFound, "The %s value has no version %d.", env, from)
	}
	v, err := sealer.OpenValue(ctx, ValueRef{OrgID: s.orgID, SecretID: s.id, Env: env, ValueVersion: old.Version}, old.Sealed)
	if err != nil {
		return nil, err
	}
	resealed, err := sealNew(ctx, sealer, s.orgID, s.id, env, s.NextValueVersion(env), v)
	if err != nil {
		return nil, err
	}
	return SecretRolledBack{Env: env, FromVersion: from, Value: resealed}, nil
}

// Reveal decides whether p may see env's current value, and returns it sealed.
func (s *Secret) Reveal(p Principal, policy RevealPolicy, env Environment) (ValueVersion, error) {
	if err := s.mustExist(); err != nil {
		return ValueVersion{}, err
	}
	cur, ok := s.Value(env)
	return reveal(p, s.target(policy), env, cur, ok)
}

// RevealSnapshot is what a reveal decides on, of a secret that exists: its owner and
// one environment's current value. A reveal that does not have the aggregate at hand
// decides on it, read from a copy of the secret's state that the log confirms is
// current (see commands.RevealSecretHandler), by the same rule as Secret.Reveal.
type RevealSnapshot struct {
	OwnerID string
	// Value is env's current value; HasValue is false when env has none.
	Value    ValueVersion
	HasValue bool
}

// Reveal decides whether p may see env's current value, as Secret.Reveal does.
func (s RevealSnapshot) Reveal(p Principal, policy RevealPolicy, env Environment) (ValueVersion, error) {
	return reveal(p, Target{OwnerID: s.OwnerID, RevealPolicy: policy}, env, s.Value, s.HasValue)
}

// reveal is the one reveal rule: the policy first (a caller who may not reveal learns
// nothing about the values), then whether env has a value.
func reveal(p Principal, t Target, env Environment, cur ValueVersion, ok bool) (ValueVersion, error) {
	if err := Authorize(p, ActionReveal, t); err != nil {
		return ValueVersion{}, err
	}
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
		ev = &envValue{}
		s.values[env] = ev
	}
	ev.set, ev.current, ev.updatedAt = true, v, at
	ev.last = max(ev.last, v.Version)
	ev.history = ev.history.with(v)
}

// SecretState is a secret's current state as a copy of it holds it (the read
// models): what a command that decides on the current state needs, without the
// history of earlier value versions.
type SecretState struct {
	Name        SecretName
	Description string
	OwnerID     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Version counts the secret's events, as Apply counts them.
	Version int
	// Values holds each environment that ever had a value: the current version (or
	// the last one, when the value was removed), set or not, and when it last changed.
	Values map[Environment]EnvState
}

// EnvState is one environment's value in a SecretState.
type EnvState struct {
	Value     ValueVersion
	Set       bool
	UpdatedAt time.Time
}

// ErrNoValueHistory is a decision asked of a secret restored without its value
// history (RestoreSecret) that needs it: the caller must replay the secret's events.
var ErrNoValueHistory = errors.New("the secret was restored without its value history")

// RestoreSecret returns the existing, undeleted secret that st describes, as its
// events would leave it apart from the earlier versions of its values (Partial): the
// state an update, a value removal or a deletion decides on. A value's versions only
// grow, so a value's version (current or last removed) is also its highest.
func RestoreSecret(orgID, id string, st SecretState) *Secret {
	s := &Secret{id: id, orgID: orgID, name: st.Name, description: st.Description, ownerID: st.OwnerID,
		createdAt: st.CreatedAt, updatedAt: st.UpdatedAt, version: st.Version, exists: true, partial: true,
		values: make(map[Environment]*envValue, len(st.Values))}
	for env, v := range st.Values {
		ev := &envValue{set: v.Set, updatedAt: v.UpdatedAt, last: v.Value.Version}
		if v.Set {
			ev.current = v.Value
			ev.history = historyOf(v.Value)
		}
		s.values[env] = ev
	}
	return s
}

// Partial reports whether the secret was restored from its current state
// (RestoreSecret) rather than replayed from its events.
func (s *Secret) Partial() bool { return s.partial }

// Clone returns a copy of the secret that later Apply calls on either one leave
// unchanged. It costs O(environments), not O(history): value histories are shared
// append-only (see envValue.history). Commands keep a secret in memory and hand
// clones to the callers that read it after the command is over.
func (s *Secret) Clone() *Secret {
	c := *s
	c.values = make(map[Environment]*envValue, len(s.values))
	for env, v := range s.values {
		cv := *v
		cv.history = v.history.shared()
		c.values[env] = &cv
	}
	return &c
}

func (s *Secret) removeValue(env Environment, at time.Time) {
	if ev := s.values[env]; ev != nil {
		ev.set, ev.updatedAt = false, at
	}
}
