package commands

import (
	"context"

	"github.com/keyledger/keyledger/domain"
)

// Authenticate checks an email and password against the user's events in the log.
type Authenticate struct {
	Email    string
	Password domain.Plaintext
}

// AuthenticatedUser is who logged in.
type AuthenticatedUser struct {
	ID         string
	Email      string
	Name       string
	Superadmin bool
}

// AuthenticateHandler handles Authenticate. It reads the log, not a read model, so a
// user can log in the instant sign-up answers.
type AuthenticateHandler struct {
	log eventLog
}

// NewAuthenticateHandler wires the handler.
func NewAuthenticateHandler(log eventLog) *AuthenticateHandler { return &AuthenticateHandler{log: log} }

// Handle returns the user when the password matches, else unauthenticated. A missing
// user costs one password check too, so timing does not tell which was wrong.
func (h *AuthenticateHandler) Handle(ctx context.Context, c Authenticate) (AuthenticatedUser, error) {
	bad := domain.Errorf(domain.CodeUnauthenticated, "The email or password is wrong.")
	email, err := domain.NormalizeEmail(c.Email)
	if err != nil {
		VerifyPassword(dummyHash, c.Password.Reveal())
		return AuthenticatedUser{}, bad
	}
	u, err := LoadUser(ctx, h.log, UserIDForEmail(email))
	if err != nil {
		return AuthenticatedUser{}, err
	}
	if !u.Exists() {
		VerifyPassword(dummyHash, c.Password.Reveal())
		return AuthenticatedUser{}, bad
	}
	if !VerifyPassword(u.PasswordHash(), c.Password.Reveal()) {
		return AuthenticatedUser{}, bad
	}
	return AuthenticatedUser{ID: u.ID(), Email: u.Email(), Name: u.Name(), Superadmin: u.Superadmin()}, nil
}

// LoadUser replays one user's events.
func LoadUser(ctx context.Context, log eventLog, id string) (*domain.User, error) {
	u := domain.NewUser(id)
	if validID("user", id) != nil {
		return u, nil
	}
	l, err := log.Load(ctx, userAggregate(id))
	if err != nil {
		return nil, err
	}
	for _, r := range l.Events {
		u.Apply(r)
	}
	return u, nil
}
