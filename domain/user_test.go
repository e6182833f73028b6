package domain_test

import (
	"testing"

	"github.com/keyledger/keyledger/domain"
)

func freshUser() *domain.User { return domain.NewUser("user-1") }

func TestUserRegister(t *testing.T) {
	t.Parallel()
	registered := domain.UserRegistered{Email: "alice@example.com", Name: "Alice", PasswordHash: "hash", Superadmin: false}
	register := func(email, name string, superadmin bool) func(*domain.User) ([]domain.Event, error) {
		return func(u *domain.User) ([]domain.Event, error) { return one(u.Register(email, name, "hash", superadmin)) }
	}
	runScenarios(t, freshUser, []scenario[*domain.User]{
		{name: "new user", when: register("alice@example.com", "Alice", false), then: []domain.Event{registered}},
		{name: "name is trimmed", when: register("alice@example.com", "  Alice ", false), then: []domain.Event{registered}},
		{name: "super-admin", when: register("root@example.com", "Root", true),
			then: []domain.Event{domain.UserRegistered{Email: "root@example.com", Name: "Root", PasswordHash: "hash", Superadmin: true}}},
		{name: "twice is email_taken", given: []domain.Event{registered}, when: register("alice@example.com", "Alice", false), err: domain.CodeEmailTaken},
		{name: "twice with another name is email_taken", given: []domain.Event{registered}, when: register("alice@example.com", "Alicia", true), err: domain.CodeEmailTaken},
		{name: "empty name", when: register("alice@example.com", " ", false), err: domain.CodeValidation, field: "name"},
	})
}

func TestUserApply(t *testing.T) {
	t.Parallel()
	u := given(t, freshUser(), domain.UserRegistered{Email: "root@example.com", Name: "Root", PasswordHash: "h", Superadmin: true})
	if !u.Exists() || u.ID() != "user-1" || u.Email() != "root@example.com" || u.Name() != "Root" || u.PasswordHash() != "h" || !u.Superadmin() {
		t.Fatalf("user state after UserRegistered: exists %v id %q email %q name %q superadmin %v", u.Exists(), u.ID(), u.Email(), u.Name(), u.Superadmin())
	}
	if !u.CreatedAt().Equal(at(0)) {
		t.Fatalf("CreatedAt = %v, want %v", u.CreatedAt(), at(0))
	}
	if freshUser().Exists() {
		t.Fatalf("a user with no events exists")
	}
}
