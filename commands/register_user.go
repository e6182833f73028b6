package commands

import (
	"context"
	"errors"

	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
)

// RegisterUser creates a platform user: by sign-up, by a super-admin, by the CLI, or
// by the bootstrap settings.
type RegisterUser struct {
	Email      string
	Name       string
	Password   domain.Plaintext
	Superadmin bool
}

// RegisterUserHandler handles RegisterUser.
type RegisterUserHandler struct {
	log eventLog
}

// NewRegisterUserHandler wires the handler.
func NewRegisterUserHandler(log eventLog) *RegisterUserHandler { return &RegisterUserHandler{log: log} }

// Handle validates, hashes the password and appends UserRegistered to a new aggregate
// whose id derives from the email: of twenty concurrent sign-ups, one wins.
func (h *RegisterUserHandler) Handle(ctx context.Context, m Meta, c RegisterUser) (Result, error) {
	email, err := domain.NormalizeEmail(c.Email)
	if err != nil {
		return Result{}, err
	}
	if err := domain.ValidatePassword(c.Password.Reveal()); err != nil {
		return Result{}, err
	}
	if _, err := domain.ValidatePersonName(c.Name); err != nil {
		return Result{}, err
	}
	id := UserIDForEmail(email)
	l, err := h.log.Load(ctx, userAggregate(id))
	if err != nil {
		return Result{}, err
	}
	if seq, ok, err := m.replayed(l.Events); ok || err != nil {
		return Result{Seq: seq, ID: id, Replayed: true}, err
	}
	u := domain.NewUser(id)
	for _, r := range l.Events {
		u.Apply(r)
	}
	hash, err := HashPassword(c.Password.Reveal())
	if err != nil {
		return Result{}, err
	}
	ev, err := u.Register(email, c.Name, hash, c.Superadmin)
	if err != nil {
		return Result{}, err
	}
	actor := m.Actor
	if actor.UserID == "" {
		actor.UserID = id
	}
	recs, err := h.log.Append(ctx, eventstore.Pending{
		Aggregate: userAggregate(id), ExpectedSeq: l.LastSeq, Position: l.EventCount() + 1,
		Events: []domain.Event{ev}, Actor: actor, MsgID: m.msgID("register_user", email), Idempotency: m.mark(),
	})
	if errors.Is(err, eventstore.ErrVersionConflict) {
		return Result{}, domain.Errorf(domain.CodeEmailTaken, "An account with this email already exists.")
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Seq: recs.Seq(), ID: id}, nil
}
