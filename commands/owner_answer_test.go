package commands_test

import (
	"cmp"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/keyledger/keyledger/commands"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ownerOutageLog is the store, whose reads of user accounts answer "unavailable" a
// few times after each append, as they do while a NATS stream's leader fails over.
type ownerOutageLog struct {
	*eventstore.Store
	outage    int32
	userFails atomic.Int32
	// err is what a failed read answers: eventstore.ErrUnavailable when nil.
	err error
}

func (l *ownerOutageLog) Append(ctx context.Context, p eventstore.Pending) (eventstore.Appended, error) {
	recs, err := l.Store.Append(ctx, p)
	if err == nil {
		l.userFails.Store(l.outage)
	}
	return recs, err
}

func (l *ownerOutageLog) Load(ctx context.Context, agg eventstore.Aggregate) (eventstore.Loaded, error) {
	if agg.Type == domain.AggregateUser && l.userFails.Add(-1) >= 0 {
		return eventstore.Loaded{}, fmt.Errorf("load %s: %w", agg.Subject(), cmp.Or(l.err, eventstore.ErrUnavailable))
	}
	return l.Store.Load(ctx, agg)
}

// A recorded command's answer names its owner's account even when the log was
// briefly unavailable as the answer was built: the same request retried with its
// Idempotency-Key names it, and both must be the same answer. Before, the first
// answer named the owner by id only.
func TestAnswerNamesTheOwnerThroughABriefOutage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	created := f.createProd(t, "OUTAGE_KEY", "v1-value")
	log := &ownerOutageLog{Store: f.store, outage: 3}
	h := commands.NewUpdateSecretHandler(log, f.store.Keyring())
	v2 := domain.NewPlaintext("v2-value")
	m := f.owner
	m.IdempotencyKey = "outage-1"
	res, err := h.Handle(ctx, m, commands.UpdateSecret{OrgID: f.orgID, SecretID: created.ID,
		Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v2}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Owner == nil || res.Owner.Email() != "owner@example.com" {
		t.Fatalf("the answer names the owner %+v, want the account owner@example.com", res.Owner)
	}
	if n := log.userFails.Load(); n >= 0 {
		t.Fatalf("the owner's account was read %d times fewer than the outage lasted: the test proved nothing", n+1)
	}
	replay, err := h.Handle(ctx, m, commands.UpdateSecret{OrgID: f.orgID, SecretID: created.ID,
		Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v2}})
	if err != nil {
		t.Fatal(err)
	}
	if !replay.Replayed || replay.Owner == nil || replay.Owner.Email() != res.Owner.Email() || replay.Seq != res.Seq {
		t.Fatalf("the retry answered seq %d replayed %v owner %+v; the first seq %d owner %s", replay.Seq, replay.Replayed, replay.Owner, res.Seq, res.Owner.Email())
	}
}

// The same holds for every error by which NATS says it could not answer for now, as
// the HTTP layer tells them (eventstore.IsUnavailable: no responders while a stream
// elects its leader, a JetStream API answer of 503, a request timeout), not only for
// those the store wraps as ErrUnavailable: before, those ended the wait at once, and the
// first answer named the owner by id only.
func TestAnswerNamesTheOwnerThroughEveryKindOfOutage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for i, outage := range []error{
		nats.ErrNoResponders,
		&jetstream.APIError{Code: 503, Description: "JetStream system temporarily unavailable"},
		nats.ErrTimeout,
	} {
		created := f.createProd(t, fmt.Sprintf("OUTAGE_%d", i), "v1-value")
		log := &ownerOutageLog{Store: f.store, outage: 3, err: outage}
		h := commands.NewUpdateSecretHandler(log, f.store.Keyring())
		v2 := domain.NewPlaintext("v2-value")
		res, err := h.Handle(ctx, f.owner, commands.UpdateSecret{OrgID: f.orgID, SecretID: created.ID,
			Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v2}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Owner == nil || res.Owner.Email() != "owner@example.com" {
			t.Errorf("through %v, the answer names the owner %+v, want the account owner@example.com", outage, res.Owner)
		}
		if n := log.userFails.Load(); n >= 0 {
			t.Errorf("through %v, the owner's account was read %d times fewer than the outage lasted: the test proved nothing", outage, n+1)
		}
	}
}

// An outage longer than the budget still answers: the command is recorded, and its
// answer names the owner by id only rather than failing.
func TestAnswerOfARecordedCommandOutlivesALongOutage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	created := f.createProd(t, "LONG_OUTAGE", "v1-value")
	log := &ownerOutageLog{Store: f.store, outage: 1 << 20}
	h := commands.NewUpdateSecretHandler(log, f.store.Keyring())
	v2 := domain.NewPlaintext("v2-value")
	res, err := h.Handle(ctx, f.owner, commands.UpdateSecret{OrgID: f.orgID, SecretID: created.ID,
		Values: map[domain.Environment]*domain.Plaintext{domain.Production: &v2}})
	if err != nil {
		t.Fatalf("a recorded update answered an error: %v", err)
	}
	if res.Seq == 0 || res.Owner != nil || res.Secret.OwnerID() != f.owner.UserID {
		t.Fatalf("answer seq %d owner %+v owner id %s", res.Seq, res.Owner, res.Secret.OwnerID())
	}
}

// createProd creates a secret named name with value in production, as the owner.
func (f fixture) createProd(tb testing.TB, name, value string) commands.SecretResult {
	tb.Helper()
	res, err := f.h.CreateSecret.Handle(context.Background(), f.owner, commands.CreateSecret{OrgID: f.orgID, Name: name,
		Values: map[domain.Environment]domain.Plaintext{domain.Production: domain.NewPlaintext(value)}})
	if err != nil {
		tb.Fatal(err)
	}
	return res
}
