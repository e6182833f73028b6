package domain

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// User is a platform user. Its id is derived from its email by the commands, so that
// "one account per email" holds under concurrency.
type User struct {
	id           string
	email        string
	name         string
	passwordHash string
	superadmin   bool
	createdAt    time.Time
	exists       bool
}

// NewUser returns an empty user aggregate, ready to replay into.
func NewUser(id string) *User { return &User{id: id} }

// Getters.
func (u *User) ID() string           { return u.id }
func (u *User) Email() string        { return u.email }
func (u *User) Name() string         { return u.name }
func (u *User) PasswordHash() string { return u.passwordHash }
func (u *User) Superadmin() bool     { return u.superadmin }
func (u *User) Exists() bool         { return u.exists }
func (u *User) CreatedAt() time.Time { return u.createdAt }

// NormalizeEmail trims and lower-cases an email and checks its shape.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", Invalid("email", "is required")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 {
		return "", Invalid("email", "must be a valid email address")
	}
	return e, nil
}

// ValidatePersonName checks a user's display name.
func ValidatePersonName(s string) (string, error) {
	n := strings.TrimSpace(s)
	if n == "" {
		return "", Invalid("name", "is required")
	}
	if err := ValidateText("name", n, SingleLine); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(n) > 200 {
		return "", Invalid("name", "must be at most 200 characters of UTF-8")
	}
	return n, nil
}

// RegisterUser decides creating a user; the email must already be normalized and the
// password hashed. A user that already exists is email_taken.
func (u *User) Register(email, name, passwordHash string, superadmin bool) (Event, error) {
	if u.exists {
		return nil, Errorf(CodeEmailTaken, "An account with this email already exists.")
	}
	n, err := ValidatePersonName(name)
	if err != nil {
		return nil, err
	}
	return UserRegistered{Email: email, Name: n, PasswordHash: passwordHash, Superadmin: superadmin}, nil
}

// Apply changes the user's state by one recorded event.
func (u *User) Apply(r Recorded) {
	if e, ok := r.Event.(UserRegistered); ok {
		u.exists, u.email, u.name, u.passwordHash, u.superadmin, u.createdAt = true, e.Email, e.Name, e.PasswordHash, e.Superadmin, r.Time
	}
}
