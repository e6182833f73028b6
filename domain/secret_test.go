package domain_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyledger/keyledger/domain"
)

// The cast of the secret tests. The secret is created by an editor, who owns it.
var (
	creator     = domain.Principal{UserID: "u-creator", Role: domain.RoleEditor}
	otherEditor = domain.Principal{UserID: "u-editor", Role: domain.RoleEditor}
	orgAdmin    = domain.Principal{UserID: "u-admin", Role: domain.RoleAdmin}
	orgOwner    = domain.Principal{UserID: "u-owner", Role: domain.RoleOwner}
	viewer      = domain.Principal{UserID: "u-viewer", Role: domain.RoleViewer}
	outsider    = domain.Principal{UserID: "u-outsider"}
	superadmin  = domain.Principal{UserID: "u-root", Superadmin: true}
)

const (
	orgID    = "org-1"
	secretID = "secret-1"
)

// vv is a sealed value version; tag stands in for the ciphertext.
func vv(version int, tag string) domain.ValueVersion {
	return domain.ValueVersion{Version: version, Mask: "***", Sealed: "sealed:" + tag}
}

func values(kv ...any) map[domain.Environment]domain.ValueVersion {
	m := map[domain.Environment]domain.ValueVersion{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(domain.Environment)] = kv[i+1].(domain.ValueVersion)
	}
	return m
}

func ptr[T any](v T) *T { return &v }

// fakeSealer stands in for the keyring: a value "x" seals as "sealed:x" (what vv
// writes) and opens back, so that expected events can be written with vv.
type fakeSealer struct{}

func (fakeSealer) SealValue(_ context.Context, _ domain.ValueRef, v domain.Plaintext) (string, error) {
	return "sealed:" + v.Reveal(), nil
}

func (fakeSealer) OpenValue(_ context.Context, _ domain.ValueRef, sealed string) (domain.Plaintext, error) {
	return domain.NewPlaintext(strings.TrimPrefix(sealed, "sealed:")), nil
}

var sealer fakeSealer

// plain is values in clear, for creating a secret.
func plain(kv ...any) map[domain.Environment]domain.Plaintext {
	m := map[domain.Environment]domain.Plaintext{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(domain.Environment)] = domain.NewPlaintext(kv[i+1].(string))
	}
	return m
}

// set is an update's values: a string sets that environment's value, nil removes it.
func set(kv ...any) map[domain.Environment]*domain.Plaintext {
	m := map[domain.Environment]*domain.Plaintext{}
	for i := 0; i < len(kv); i += 2 {
		env := kv[i].(domain.Environment)
		if kv[i+1] == nil {
			m[env] = nil
			continue
		}
		v := domain.NewPlaintext(kv[i+1].(string))
		m[env] = &v
	}
	return m
}

// created is the usual first event: development and production set, staging not.
func created() domain.SecretCreated {
	return domain.SecretCreated{
		Name:        "STRIPE_SECRET_KEY",
		Description: "Stripe",
		OwnerID:     creator.UserID,
		Values:      values(domain.Development, vv(1, "dev-1"), domain.Production, vv(1, "prod-1")),
	}
}

func freshSecret() *domain.Secret { return domain.NewSecret(orgID, secretID) }

type secretScenario = scenario[*domain.Secret]

func TestCreateSecret(t *testing.T) {
	t.Parallel()
	input := func(edit func(*domain.NewSecretInput)) domain.NewSecretInput {
		in := domain.NewSecretInput{
			Name:        "STRIPE_SECRET_KEY",
			Description: "Stripe",
			OwnerID:     creator.UserID,
			Values:      plain(domain.Development, "dev-1", domain.Production, "prod-1"),
		}
		if edit != nil {
			edit(&in)
		}
		return in
	}
	tests := []struct {
		name  string
		p     domain.Principal
		in    domain.NewSecretInput
		want  domain.Event
		err   domain.Code
		field string
	}{
		{"editor creates with values", creator, input(nil), created(), "", ""},
		{"without values", creator, input(func(in *domain.NewSecretInput) { in.Values = nil }),
			domain.SecretCreated{Name: "STRIPE_SECRET_KEY", Description: "Stripe", OwnerID: creator.UserID}, "", ""},
		{"admin creates", orgAdmin, input(nil), created(), "", ""},
		{"owner creates", orgOwner, input(nil), created(), "", ""},
		{"super-admin creates", superadmin, input(nil), created(), "", ""},
		{"viewer may not create", viewer, input(nil), nil, domain.CodeForbidden, ""},
		{"non-member sees nothing", outsider, input(nil), nil, domain.CodeNotFound, ""},
		{"invalid name", creator, input(func(in *domain.NewSecretInput) { in.Name = "1PASSWORD" }), nil, domain.CodeValidation, "name"},
		{"empty name", creator, input(func(in *domain.NewSecretInput) { in.Name = "" }), nil, domain.CodeValidation, "name"},
		// A name that was not normalized by the caller is recorded normalized, never as typed.
		{"name is recorded normalized", creator, input(func(in *domain.NewSecretInput) { in.Name = " stripe_secret_key " }), created(), "", ""},
		{"1000-character description", creator, input(func(in *domain.NewSecretInput) { in.Description = strings.Repeat("d", 1000) }),
			func() domain.Event { e := created(); e.Description = strings.Repeat("d", 1000); return e }(), "", ""},
		{"1001-character description", creator, input(func(in *domain.NewSecretInput) { in.Description = strings.Repeat("d", 1001) }), nil, domain.CodeValidation, "description"},
		{"empty value", creator, input(func(in *domain.NewSecretInput) { in.Values[domain.Staging] = domain.NewPlaintext("") }), nil, domain.CodeValidation, "values.staging"},
		{"value in an unknown environment", creator, input(func(in *domain.NewSecretInput) { in.Values["qa"] = domain.NewPlaintext("qa") }), nil, domain.CodeValidation, "values.qa"},
		{"viewer is refused before the values are looked at", viewer, input(func(in *domain.NewSecretInput) { in.Values[domain.Staging] = domain.NewPlaintext("") }), nil, domain.CodeForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.CreateSecret(context.Background(), tt.p, orgID, secretID, tt.in, sealer)
			if tt.err != "" {
				thenValid(t, err, tt.err, tt.field)
				if got.Name != "" {
					t.Fatalf("a refused creation returned %#v", got)
				}
				return
			}
			thenEvents(t, []domain.Event{got}, err, tt.want)
		})
	}
}

func TestSecretUpdate(t *testing.T) {
	t.Parallel()
	update := func(p domain.Principal, c domain.SecretChange) func(*domain.Secret) ([]domain.Event, error) {
		return func(s *domain.Secret) ([]domain.Event, error) { return s.Update(context.Background(), p, c, sealer) }
	}
	runScenarios(t, freshSecret, []secretScenario{
		{
			name:  "description only",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Description: ptr("Stripe live key")}),
			then:  []domain.Event{domain.SecretUpdated{Description: ptr("Stripe live key")}},
		},
		{
			name:  "description cleared",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Description: ptr("")}),
			then:  []domain.Event{domain.SecretUpdated{Description: ptr("")}},
		},
		{
			name:  "unchanged description is no event",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Description: ptr("Stripe")}),
		},
		{
			name:  "empty change is no event",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{}),
		},
		{
			name:  "empty change at the current version is no event",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{ExpectedVersion: ptr(1), Values: set()}),
		},
		{
			name:  "description too long",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Description: ptr(strings.Repeat("é", 1001))}),
			err:   domain.CodeValidation, field: "description",
		},
		{
			name:  "value set at the next version of a set environment",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Values: set(domain.Production, "prod-2")}),
			then:  []domain.Event{domain.SecretUpdated{Set: values(domain.Production, vv(2, "prod-2"))}},
		},
		{
			name:  "first value of an environment is version 1",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Values: set(domain.Staging, "stg-1")}),
			then:  []domain.Event{domain.SecretUpdated{Set: values(domain.Staging, vv(1, "stg-1"))}},
		},
		{
			name:  "description, set and remove in one event",
			given: []domain.Event{created()},
			when: update(creator, domain.SecretChange{
				Description: ptr("new"),
				Values:      set(domain.Staging, "stg-1", domain.Production, "prod-2", domain.Development, nil),
			}),
			then: []domain.Event{domain.SecretUpdated{
				Description: ptr("new"),
				Set:         values(domain.Staging, vv(1, "stg-1"), domain.Production, vv(2, "prod-2")),
				Removed:     []domain.Environment{domain.Development},
			}},
		},
		{
			name:  "the current value again is no event",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Values: set(domain.Production, "prod-1")}),
		},
		{
			name:  "an unchanged value beside a changed one gets no new version",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Values: set(domain.Production, "prod-1", domain.Development, "dev-2")}),
			then:  []domain.Event{domain.SecretUpdated{Set: values(domain.Development, vv(2, "dev-2"))}},
		},
		{
			name:  "an empty value is refused",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Values: set(domain.Staging, "")}),
			err:   domain.CodeValidation, field: "values.staging",
		},
		{
			name:  "value in an unknown environment",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Values: set(domain.Environment("qa"), "qa-1")}),
			err:   domain.CodeValidation, field: "values.qa",
		},
		{
			name:  "remove a set value",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Values: set(domain.Production, nil)}),
			then:  []domain.Event{domain.SecretUpdated{Removed: []domain.Environment{domain.Production}}},
		},
		{
			name:  "remove the same environment twice is one removal",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Values: set(domain.Production, nil)}),
			then:  []domain.Event{domain.SecretUpdated{Removed: []domain.Environment{domain.Production}}},
		},
		{
			name:  "remove an unset environment is no event",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Values: set(domain.Staging, nil)}),
		},
		{
			name:  "remove an already removed environment is no event",
			given: []domain.Event{created(), domain.SecretValueDeleted{Env: domain.Production, Version: 1}},
			when:  update(creator, domain.SecretChange{Values: set(domain.Production, nil)}),
		},
		{
			name:  "expected version is current",
			given: []domain.Event{created(), domain.SecretUpdated{Description: ptr("v2")}},
			when:  update(creator, domain.SecretChange{Description: ptr("v3"), ExpectedVersion: ptr(2)}),
			then:  []domain.Event{domain.SecretUpdated{Description: ptr("v3")}},
		},
		{
			name:  "expected version is stale",
			given: []domain.Event{created(), domain.SecretUpdated{Description: ptr("v2")}},
			when:  update(creator, domain.SecretChange{Description: ptr("v3"), ExpectedVersion: ptr(1)}),
			err:   domain.CodeVersionConflict,
		},
		{
			name:  "expected version is stale even for a change that would be no event",
			given: []domain.Event{created(), domain.SecretUpdated{Description: ptr("v2")}},
			when:  update(creator, domain.SecretChange{ExpectedVersion: ptr(1)}),
			err:   domain.CodeVersionConflict,
		},
		{
			name:  "expected version from the future",
			given: []domain.Event{created()},
			when:  update(creator, domain.SecretChange{Description: ptr("x"), ExpectedVersion: ptr(2)}),
			err:   domain.CodeVersionConflict,
		},
		{
			name:  "non-owner editor may not modify",
			given: []domain.Event{created()},
			when:  update(otherEditor, domain.SecretChange{Description: ptr("mine now")}),
			err:   domain.CodeForbidden,
		},
		{
			name:  "non-owner editor is forbidden before the version is checked",
			given: []domain.Event{created()},
			when:  update(otherEditor, domain.SecretChange{Description: ptr("x"), ExpectedVersion: ptr(7)}),
			err:   domain.CodeForbidden,
		},
		{
			name:  "viewer may not modify",
			given: []domain.Event{created()},
			when:  update(viewer, domain.SecretChange{Description: ptr("x")}),
			err:   domain.CodeForbidden,
		},
		{
			name:  "non-member gets not_found",
			given: []domain.Event{created()},
			when:  update(outsider, domain.SecretChange{Description: ptr("x")}),
			err:   domain.CodeNotFound,
		},
		{
			name:  "admin overrides ownership",
			given: []domain.Event{created()},
			when:  update(orgAdmin, domain.SecretChange{Description: ptr("by admin")}),
			then:  []domain.Event{domain.SecretUpdated{Description: ptr("by admin")}},
		},
		{
			name:  "owner overrides ownership",
			given: []domain.Event{created()},
			when:  update(orgOwner, domain.SecretChange{Values: set(domain.Production, "prod-2")}),
			then:  []domain.Event{domain.SecretUpdated{Set: values(domain.Production, vv(2, "prod-2"))}},
		},
		{
			name:  "super-admin overrides ownership",
			given: []domain.Event{created()},
			when:  update(superadmin, domain.SecretChange{Description: ptr("by root")}),
			then:  []domain.Event{domain.SecretUpdated{Description: ptr("by root")}},
		},
		{
			name: "secret never created",
			when: update(orgOwner, domain.SecretChange{Description: ptr("x")}),
			err:  domain.CodeNotFound,
		},
	})
}

func TestSecretDeleteValue(t *testing.T) {
	t.Parallel()
	deleteValue := func(p domain.Principal, env domain.Environment) func(*domain.Secret) ([]domain.Event, error) {
		return func(s *domain.Secret) ([]domain.Event, error) { return one(s.DeleteValue(p, env)) }
	}
	runScenarios(t, freshSecret, []secretScenario{
		{
			name:  "owner removes a value, recording its version",
			given: []domain.Event{created(), domain.SecretUpdated{Set: values(domain.Production, vv(2, "prod-2"))}},
			when:  deleteValue(creator, domain.Production),
			then:  []domain.Event{domain.SecretValueDeleted{Env: domain.Production, Version: 2}},
		},
		{
			name:  "unset environment",
			given: []domain.Event{created()},
			when:  deleteValue(creator, domain.Staging),
			err:   domain.CodeNotFound,
		},
		{
			name:  "already removed environment",
			given: []domain.Event{created(), domain.SecretValueDeleted{Env: domain.Production, Version: 1}},
			when:  deleteValue(creator, domain.Production),
			err:   domain.CodeNotFound,
		},
		{
			name:  "non-owner editor",
			given: []domain.Event{created()},
			when:  deleteValue(otherEditor, domain.Production),
			err:   domain.CodeForbidden,
		},
		{
			name:  "viewer",
			given: []domain.Event{created()},
			when:  deleteValue(viewer, domain.Production),
			err:   domain.CodeForbidden,
		},
		{
			name:  "admin overrides ownership",
			given: []domain.Event{created()},
			when:  deleteValue(orgAdmin, domain.Development),
			then:  []domain.Event{domain.SecretValueDeleted{Env: domain.Development, Version: 1}},
		},
		{
			name:  "non-member",
			given: []domain.Event{created()},
			when:  deleteValue(outsider, domain.Production),
			err:   domain.CodeNotFound,
		},
	})
}

func TestSecretDelete(t *testing.T) {
	t.Parallel()
	deleteSecret := func(p domain.Principal) func(*domain.Secret) ([]domain.Event, error) {
		return func(s *domain.Secret) ([]domain.Event, error) { return one(s.Delete(p)) }
	}
	runScenarios(t, freshSecret, []secretScenario{
		{"owner deletes, naming the freed name", []domain.Event{created()}, deleteSecret(creator),
			[]domain.Event{domain.SecretDeleted{Name: "STRIPE_SECRET_KEY"}}, "", ""},
		{"admin overrides ownership", []domain.Event{created()}, deleteSecret(orgAdmin),
			[]domain.Event{domain.SecretDeleted{Name: "STRIPE_SECRET_KEY"}}, "", ""},
		{"super-admin overrides ownership", []domain.Event{created()}, deleteSecret(superadmin),
			[]domain.Event{domain.SecretDeleted{Name: "STRIPE_SECRET_KEY"}}, "", ""},
		{"non-owner editor", []domain.Event{created()}, deleteSecret(otherEditor), nil, domain.CodeForbidden, ""},
		{"viewer", []domain.Event{created()}, deleteSecret(viewer), nil, domain.CodeForbidden, ""},
		{"non-member", []domain.Event{created()}, deleteSecret(outsider), nil, domain.CodeNotFound, ""},
		{"never created", nil, deleteSecret(orgOwner), nil, domain.CodeNotFound, ""},
	})
}

// TestDeletedSecretIsNotFound checks that after SecretDeleted every decision, by anyone,
// is not_found.
func TestDeletedSecretIsNotFound(t *testing.T) {
	t.Parallel()
	history := []domain.Event{
		created(),
		domain.SecretUpdated{Set: values(domain.Production, vv(2, "prod-2"))},
		domain.SecretDeleted{Name: "STRIPE_SECRET_KEY"},
	}
	decisions := map[string]func(*domain.Secret, domain.Principal) ([]domain.Event, error){
		"update": func(s *domain.Secret, p domain.Principal) ([]domain.Event, error) {
			return s.Update(context.Background(), p, domain.SecretChange{Description: ptr("back")}, sealer)
		},
		"update with nothing to change": func(s *domain.Secret, p domain.Principal) ([]domain.Event, error) {
			return s.Update(context.Background(), p, domain.SecretChange{}, sealer)
		},
		"delete value": func(s *domain.Secret, p domain.Principal) ([]domain.Event, error) {
			return one(s.DeleteValue(p, domain.Production))
		},
		"delete": func(s *domain.Secret, p domain.Principal) ([]domain.Event, error) {
			return one(s.Delete(p))
		},
		"rollback": func(s *domain.Secret, p domain.Principal) ([]domain.Event, error) {
			return one(s.Rollback(context.Background(), p, domain.Production, 1, sealer))
		},
		"reveal": func(s *domain.Secret, p domain.Principal) ([]domain.Event, error) {
			_, err := s.Reveal(p, domain.RevealAllowed, domain.Production)
			return nil, err
		},
	}
	var scenarios []secretScenario
	for name, decide := range decisions {
		for _, p := range []domain.Principal{creator, orgAdmin, orgOwner, superadmin, viewer} {
			scenarios = append(scenarios, secretScenario{
				name:  name + " by " + p.UserID,
				given: history,
				when:  func(s *domain.Secret) ([]domain.Event, error) { return decide(s, p) },
				err:   domain.CodeNotFound,
			})
		}
	}
	runScenarios(t, freshSecret, scenarios)

	s := given(t, freshSecret(), history...)
	if s.Exists() || !s.Deleted() {
		t.Fatalf("after SecretDeleted: Exists() = %v, Deleted() = %v", s.Exists(), s.Deleted())
	}
	if s.Version() != 3 {
		t.Fatalf("deleting is a change: version = %d, want 3", s.Version())
	}
}

func TestSecretRollback(t *testing.T) {
	t.Parallel()
	history := []domain.Event{
		created(), // production v1
		domain.SecretUpdated{Set: values(domain.Production, vv(2, "prod-2"))},
	}
	rollback := func(p domain.Principal, env domain.Environment, from int) func(*domain.Secret) ([]domain.Event, error) {
		return func(s *domain.Secret) ([]domain.Event, error) {
			return one(s.Rollback(context.Background(), p, env, from, sealer))
		}
	}
	runScenarios(t, freshSecret, []secretScenario{
		{
			name:  "to an older version makes a new version",
			given: history,
			when:  rollback(creator, domain.Production, 1),
			then:  []domain.Event{domain.SecretRolledBack{Env: domain.Production, FromVersion: 1, Value: vv(3, "prod-1")}},
		},
		{
			name:  "to the current version still makes a new version",
			given: history,
			when:  rollback(creator, domain.Production, 2),
			then:  []domain.Event{domain.SecretRolledBack{Env: domain.Production, FromVersion: 2, Value: vv(3, "prod-2")}},
		},
		{
			name:  "of a removed value brings it back",
			given: append(history[:2:2], domain.SecretValueDeleted{Env: domain.Production, Version: 2}),
			when:  rollback(creator, domain.Production, 1),
			then:  []domain.Event{domain.SecretRolledBack{Env: domain.Production, FromVersion: 1, Value: vv(3, "prod-1")}},
		},
		{
			name:  "to a version that never existed",
			given: history,
			when:  rollback(creator, domain.Production, 5),
			err:   domain.CodeNotFound,
		},
		{
			name:  "to version 0",
			given: history,
			when:  rollback(creator, domain.Production, 0),
			err:   domain.CodeNotFound,
		},
		{
			name:  "in an environment that never had a value",
			given: history,
			when:  rollback(creator, domain.Staging, 1),
			err:   domain.CodeNotFound,
		},
		{
			name:  "non-owner editor",
			given: history,
			when:  rollback(otherEditor, domain.Production, 1),
			err:   domain.CodeForbidden,
		},
		{
			name:  "viewer",
			given: history,
			when:  rollback(viewer, domain.Production, 1),
			err:   domain.CodeForbidden,
		},
		{
			name:  "non-member",
			given: history,
			when:  rollback(outsider, domain.Production, 1),
			err:   domain.CodeNotFound,
		},
		{
			name:  "admin overrides ownership",
			given: history,
			when:  rollback(orgAdmin, domain.Production, 1),
			then:  []domain.Event{domain.SecretRolledBack{Env: domain.Production, FromVersion: 1, Value: vv(3, "prod-1")}},
		},
	})

	// Then: the rolled-back value is current, at the new version, and history is kept.
	s := given(t, freshSecret(), append(history[:2:2], domain.SecretRolledBack{Env: domain.Production, FromVersion: 1, Value: vv(3, "prod-1")})...)
	if cur, ok := s.Value(domain.Production); !ok || cur != vv(3, "prod-1") {
		t.Fatalf("after rollback Value = %+v, %v", cur, ok)
	}
	for v, tag := range map[int]string{1: "prod-1", 2: "prod-2", 3: "prod-1"} {
		if got, ok := s.ValueAt(domain.Production, v); !ok || got != vv(v, tag) {
			t.Fatalf("ValueAt(production, %d) = %+v, %v", v, got, ok)
		}
	}
	if s.Version() != 3 || s.NextValueVersion(domain.Production) != 4 {
		t.Fatalf("version = %d, next production version = %d; want 3 and 4", s.Version(), s.NextValueVersion(domain.Production))
	}
}

func TestSecretReveal(t *testing.T) {
	t.Parallel()
	history := []domain.Event{created(), domain.SecretUpdated{Set: values(domain.Production, vv(2, "prod-2"))}}
	tests := []struct {
		name   string
		given  []domain.Event
		p      domain.Principal
		policy domain.RevealPolicy
		env    domain.Environment
		want   domain.ValueVersion
		err    domain.Code
	}{
		{"owner sees the current version", history, creator, domain.RevealAllowed, domain.Production, vv(2, "prod-2"), ""},
		{"viewer may reveal", history, viewer, domain.RevealAllowed, domain.Development, vv(1, "dev-1"), ""},
		{"non-owner editor may reveal", history, otherEditor, domain.RevealAllowed, domain.Production, vv(2, "prod-2"), ""},
		{"super-admin may reveal", history, superadmin, domain.RevealAllowed, domain.Production, vv(2, "prod-2"), ""},
		{"disabled policy stops the secret's owner", history, creator, domain.RevealDisabled, domain.Production, domain.ValueVersion{}, domain.CodeRevealDisabled},
		{"disabled policy stops an org owner", history, orgOwner, domain.RevealDisabled, domain.Production, domain.ValueVersion{}, domain.CodeRevealDisabled},
		{"disabled policy stops a super-admin", history, superadmin, domain.RevealDisabled, domain.Production, domain.ValueVersion{}, domain.CodeRevealDisabled},
		{"disabled policy stops a viewer", history, viewer, domain.RevealDisabled, domain.Production, domain.ValueVersion{}, domain.CodeRevealDisabled},
		{"non-member gets not_found", history, outsider, domain.RevealAllowed, domain.Production, domain.ValueVersion{}, domain.CodeNotFound},
		{"non-member under disabled policy gets not_found", history, outsider, domain.RevealDisabled, domain.Production, domain.ValueVersion{}, domain.CodeNotFound},
		{"no value in that environment", history, creator, domain.RevealAllowed, domain.Staging, domain.ValueVersion{}, domain.CodeNotFound},
		{"removed value", append(history[:2:2], domain.SecretValueDeleted{Env: domain.Production, Version: 2}), creator, domain.RevealAllowed, domain.Production, domain.ValueVersion{}, domain.CodeNotFound},
		{"never created", nil, creator, domain.RevealAllowed, domain.Production, domain.ValueVersion{}, domain.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := given(t, freshSecret(), tt.given...)
			got, err := s.Reveal(tt.p, tt.policy, tt.env)
			thenCode(t, err, tt.err)
			if got != tt.want {
				t.Fatalf("Reveal = %+v, want %+v", got, tt.want)
			}
			if !s.Exists() {
				return // a snapshot is of a secret that exists
			}
			// A reveal decided on a snapshot of the same state decides the same.
			cur, ok := s.Value(tt.env)
			snap := domain.RevealSnapshot{OwnerID: s.OwnerID(), Value: cur, HasValue: ok}
			got, err = snap.Reveal(tt.p, tt.policy, tt.env)
			thenCode(t, err, tt.err)
			if got != tt.want {
				t.Fatalf("RevealSnapshot.Reveal = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// decideAndApply asserts a decision succeeded with exactly one event and applies it, as
// the command handlers do, at time when.
func decideAndApply(tb testing.TB, s *domain.Secret, when int, events []domain.Event, err error) domain.Event {
	tb.Helper()
	if err != nil {
		tb.Fatalf("decision failed: %v", err)
	}
	if len(events) != 1 {
		tb.Fatalf("decision returned %d events, want 1: %#v", len(events), events)
	}
	s.Apply(domain.Recorded{Time: at(when), Event: events[0]})
	return events[0]
}

// TestSecretVersionsPerEnvironment walks one environment through set, update, remove and
// set again, deciding each step from the state the previous ones left: the environment's
// version keeps counting across the removal, and the secret's version grows by one with
// every changing event.
func TestSecretVersionsPerEnvironment(t *testing.T) {
	t.Parallel()
	s := given(t, freshSecret(), domain.SecretCreated{Name: "API_KEY", OwnerID: creator.UserID,
		Values: values(domain.Production, vv(1, "p1"))})
	assertValue(t, s, domain.Production, 1, true)
	assertVersion(t, s, 1)

	// Update: v2.
	next := s.NextValueVersion(domain.Production)
	if next != 2 {
		t.Fatalf("NextValueVersion after v1 = %d, want 2", next)
	}
	evs, err := s.Update(context.Background(), creator, domain.SecretChange{Values: set(domain.Production, "p2"), ExpectedVersion: ptr(1)}, sealer)
	decideAndApply(t, s, 1, evs, err)
	assertValue(t, s, domain.Production, 2, true)
	assertVersion(t, s, 2)

	// A writer who still thinks the secret is at version 1 loses; the same value again
	// is no change at all.
	_, err = s.Update(context.Background(), creator, domain.SecretChange{Values: set(domain.Production, "p2-bis"), ExpectedVersion: ptr(1)}, sealer)
	thenCode(t, err, domain.CodeVersionConflict)
	if evs, err := s.Update(context.Background(), creator, domain.SecretChange{Values: set(domain.Production, "p2")}, sealer); err != nil || len(evs) != 0 {
		t.Fatalf("the current value again: %v, %v; want no event", evs, err)
	}

	// Remove.
	ev, err := s.DeleteValue(creator, domain.Production)
	decideAndApply(t, s, 2, []domain.Event{ev}, err)
	if ev != (domain.SecretValueDeleted{Env: domain.Production, Version: 2}) {
		t.Fatalf("DeleteValue = %#v", ev)
	}
	assertValue(t, s, domain.Production, 0, false)
	assertVersion(t, s, 3)
	if got := s.ValueUpdatedAt(domain.Production); !got.Equal(at(2)) {
		t.Fatalf("ValueUpdatedAt after removal = %v, want %v", got, at(2))
	}

	// Set again: v3, not v1.
	next = s.NextValueVersion(domain.Production)
	if next != 3 {
		t.Fatalf("NextValueVersion after removal = %d, want 3", next)
	}
	evs, err = s.Update(context.Background(), creator, domain.SecretChange{Values: set(domain.Production, "p3"), ExpectedVersion: ptr(3)}, sealer)
	decideAndApply(t, s, 3, evs, err)
	assertValue(t, s, domain.Production, 3, true)
	assertVersion(t, s, 4)

	// Remove through Update, then roll back to v1: v4.
	evs, err = s.Update(context.Background(), creator, domain.SecretChange{Values: set(domain.Production, nil)}, sealer)
	decideAndApply(t, s, 4, evs, err)
	assertValue(t, s, domain.Production, 0, false)
	assertVersion(t, s, 5)
	ev, err = s.Rollback(context.Background(), creator, domain.Production, 1, sealer)
	decideAndApply(t, s, 5, []domain.Event{ev}, err)
	assertValue(t, s, domain.Production, 4, true)
	assertVersion(t, s, 6)

	// Other environments were never touched.
	assertValue(t, s, domain.Staging, 0, false)
	if s.NextValueVersion(domain.Staging) != 1 || s.NextValueVersion(domain.Development) != 1 {
		t.Fatalf("untouched environments do not start at version 1")
	}
	if !s.CreatedAt().Equal(at(0)) || !s.UpdatedAt().Equal(at(5)) {
		t.Fatalf("CreatedAt = %v, UpdatedAt = %v; want %v and %v", s.CreatedAt(), s.UpdatedAt(), at(0), at(5))
	}
}

func TestSecretApply(t *testing.T) {
	t.Parallel()
	s := given(t, freshSecret(),
		created(), // 1
		domain.SecretRevealed{SecretID: secretID, Env: domain.Production, Version: 1},
		domain.AccessDenied{Action: domain.AuditSecretUpdated, SecretID: secretID, Code: domain.CodeForbidden},
		domain.SecretUpdated{Description: ptr("described")},                                   // 2
		domain.SecretUpdated{Set: values(domain.Staging, vv(1, "s1"))},                        // 3
		domain.SecretValueDeleted{Env: domain.Development, Version: 1},                        // 4
		domain.SecretRolledBack{Env: domain.Development, FromVersion: 1, Value: vv(2, "d1b")}, // 5
		domain.SecretsFetched{Env: domain.Production, Names: []string{"STRIPE_SECRET_KEY"}},
	)
	if s.ID() != secretID || s.OrgID() != orgID {
		t.Fatalf("ids = %q, %q", s.ID(), s.OrgID())
	}
	if s.Name() != "STRIPE_SECRET_KEY" || s.Description() != "described" || s.OwnerID() != creator.UserID {
		t.Fatalf("name %q, description %q, owner %q", s.Name(), s.Description(), s.OwnerID())
	}
	if !s.Exists() || s.Deleted() {
		t.Fatalf("Exists() = %v, Deleted() = %v", s.Exists(), s.Deleted())
	}
	// Access records never change a secret's version.
	assertVersion(t, s, 5)
	assertValue(t, s, domain.Production, 1, true)
	assertValue(t, s, domain.Staging, 1, true)
	assertValue(t, s, domain.Development, 2, true)
	if !s.UpdatedAt().Equal(at(6)) {
		t.Fatalf("UpdatedAt = %v, want the last changing event's time %v", s.UpdatedAt(), at(6))
	}
	if !s.ValueUpdatedAt(domain.Production).Equal(at(0)) || !s.ValueUpdatedAt(domain.Staging).Equal(at(4)) {
		t.Fatalf("ValueUpdatedAt: production %v, staging %v", s.ValueUpdatedAt(domain.Production), s.ValueUpdatedAt(domain.Staging))
	}
	if !domain.NewSecret(orgID, secretID).ValueUpdatedAt(domain.Production).IsZero() {
		t.Fatalf("a value never set has a non-zero ValueUpdatedAt")
	}
	if _, ok := s.ValueAt(domain.Production, 2); ok {
		t.Fatalf("ValueAt returned a version that never existed")
	}
	if _, ok := freshSecret().ValueAt(domain.Production, 1); ok {
		t.Fatalf("ValueAt on an empty secret returned a value")
	}
}

func assertValue(tb testing.TB, s *domain.Secret, env domain.Environment, version int, set bool) {
	tb.Helper()
	cur, ok := s.Value(env)
	if ok != set || cur.Version != version {
		tb.Fatalf("Value(%s) = version %d set %v, want version %d set %v", env, cur.Version, ok, version, set)
	}
}

func assertVersion(tb testing.TB, s *domain.Secret, want int) {
	tb.Helper()
	if s.Version() != want {
		tb.Fatalf("secret version = %d, want %d", s.Version(), want)
	}
}
