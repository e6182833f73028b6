package domain_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyledger/keyledger/domain"
)

func TestCreateServiceToken(t *testing.T) {
	t.Parallel()
	now := at(0)
	later := now.Add(time.Hour)
	tests := []struct {
		name    string
		p       domain.Principal
		token   string
		envs    []domain.Environment
		expires *time.Time
		want    domain.Event
		err     domain.Code
		field   string
	}{
		{"admin, one environment", orgAdmin, "ci", []domain.Environment{domain.Production}, nil,
			domain.ServiceTokenCreated{Name: "ci", Environments: []domain.Environment{domain.Production}, SecretHash: "h"}, "", ""},
		{"environments deduplicated, in display order", orgOwner, " deploy ", []domain.Environment{domain.Production, domain.Development, domain.Production}, &later,
			domain.ServiceTokenCreated{Name: "deploy", Environments: []domain.Environment{domain.Development, domain.Production}, ExpiresAt: &later, SecretHash: "h"}, "", ""},
		{"super-admin", superadmin, "ci", []domain.Environment{domain.Staging}, nil,
			domain.ServiceTokenCreated{Name: "ci", Environments: []domain.Environment{domain.Staging}, SecretHash: "h"}, "", ""},
		{"editor may not", creator, "ci", []domain.Environment{domain.Production}, nil, nil, domain.CodeForbidden, ""},
		{"viewer may not", viewer, "ci", []domain.Environment{domain.Production}, nil, nil, domain.CodeForbidden, ""},
		{"non-member gets not_found", outsider, "ci", []domain.Environment{domain.Production}, nil, nil, domain.CodeNotFound, ""},
		{"empty name", orgAdmin, " ", []domain.Environment{domain.Production}, nil, nil, domain.CodeValidation, "name"},
		{"101-character name", orgAdmin, strings.Repeat("n", 101), []domain.Environment{domain.Production}, nil, nil, domain.CodeValidation, "name"},
		{"no environment", orgAdmin, "ci", nil, nil, nil, domain.CodeValidation, "environments"},
		{"unknown environment only", orgAdmin, "ci", []domain.Environment{"qa"}, nil, nil, domain.CodeValidation, "environments"},
		{"unknown environment among known ones", orgAdmin, "ci", []domain.Environment{domain.Production, "Production"}, nil, nil, domain.CodeValidation, "environments"},
		{"expiry now", orgAdmin, "ci", []domain.Environment{domain.Production}, &now, nil, domain.CodeValidation, "expires_at"},
		{"expiry in the past", orgAdmin, "ci", []domain.Environment{domain.Production}, ptr(now.Add(-time.Second)), nil, domain.CodeValidation, "expires_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.CreateServiceToken(tt.p, tt.token, tt.envs, tt.expires, "h", now)
			if tt.err != "" {
				thenValid(t, err, tt.err, tt.field)
				return
			}
			thenEvents(t, []domain.Event{got}, err, tt.want)
		})
	}
}

func TestServiceTokenLifecycle(t *testing.T) {
	t.Parallel()
	expires := at(10)
	tok := given(t, domain.NewServiceToken(orgID, "tok-1"),
		domain.ServiceTokenCreated{Name: "ci", Environments: []domain.Environment{domain.Staging, domain.Production}, ExpiresAt: &expires, SecretHash: "h"})
	if !tok.Exists() || tok.Revoked() || tok.ID() != "tok-1" || tok.OrgID() != orgID || tok.Name() != "ci" || tok.SecretHash() != "h" {
		t.Fatalf("token state after creation is wrong")
	}
	if !reflect.DeepEqual(tok.Environments(), []domain.Environment{domain.Staging, domain.Production}) {
		t.Fatalf("Environments() = %v", tok.Environments())
	}
	for env, want := range map[domain.Environment]bool{domain.Development: false, domain.Staging: true, domain.Production: true} {
		if tok.Allows(env) != want {
			t.Fatalf("Allows(%s) = %v, want %v", env, !want, want)
		}
	}
	for _, tc := range []struct {
		when time.Time
		want bool
	}{{at(0), true}, {expires.Add(-time.Nanosecond), true}, {expires, false}, {at(11), false}} {
		if got := tok.Usable(tc.when); got != tc.want {
			t.Fatalf("Usable(%v) = %v, want %v", tc.when, got, tc.want)
		}
	}

	_, err := tok.Revoke(creator)
	thenCode(t, err, domain.CodeForbidden)
	_, err = tok.Revoke(outsider)
	thenCode(t, err, domain.CodeNotFound)
	ev, err := tok.Revoke(orgAdmin)
	thenEvents(t, []domain.Event{ev}, err, domain.ServiceTokenRevoked{Name: "ci"})

	tok.Apply(domain.Recorded{Time: at(1), Event: ev})
	if !tok.Revoked() || tok.Usable(at(1)) {
		t.Fatalf("a revoked token is usable")
	}
	_, err = tok.Revoke(orgAdmin)
	thenCode(t, err, domain.CodeNotFound)

	_, err = domain.NewServiceToken(orgID, "missing").Revoke(orgOwner)
	thenCode(t, err, domain.CodeNotFound)
	if domain.NewServiceToken(orgID, "missing").Usable(at(0)) {
		t.Fatalf("a token that was never created is usable")
	}
}

func TestPersonalToken(t *testing.T) {
	t.Parallel()
	now := at(0)
	ev, err := domain.CreatePersonalToken("u-1", " laptop ", nil, "h", now)
	thenEvents(t, []domain.Event{ev}, err, domain.PersonalTokenCreated{UserID: "u-1", Name: "laptop", SecretHash: "h"})
	_, err = domain.CreatePersonalToken("u-1", "", nil, "h", now)
	thenValid(t, err, domain.CodeValidation, "name")
	_, err = domain.CreatePersonalToken("u-1", "old", &now, "h", now)
	thenValid(t, err, domain.CodeValidation, "expires_at")

	tok := given(t, domain.NewPersonalToken("pat-1"), ev)
	if tok.ID() != "pat-1" || tok.UserID() != "u-1" || tok.SecretHash() != "h" || !tok.Usable(at(1000)) {
		t.Fatalf("token state after creation is wrong")
	}
	// Another user's token does not exist for them.
	_, err = tok.Revoke("u-2")
	thenCode(t, err, domain.CodeNotFound)
	rev, err := tok.Revoke("u-1")
	thenEvents(t, []domain.Event{rev}, err, domain.PersonalTokenRevoked{})
	tok.Apply(domain.Recorded{Time: at(1), Event: rev})
	if tok.Usable(at(1)) {
		t.Fatalf("a revoked personal token is usable")
	}
	_, err = tok.Revoke("u-1")
	thenCode(t, err, domain.CodeNotFound)

	expiring := given(t, domain.NewPersonalToken("pat-2"), domain.PersonalTokenCreated{UserID: "u-1", Name: "ci", ExpiresAt: ptr(at(5)), SecretHash: "h"})
	if !expiring.Usable(at(4)) || expiring.Usable(at(5)) {
		t.Fatalf("a personal token is usable until, not at, its expiry")
	}
}
