package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/keyledger/keyledger/domain"
	"github.com/keyledger/keyledger/eventstore"
	"github.com/keyledger/keyledger/eventstore/eventstoretest"
	"github.com/keyledger/keyledger/projections"
)

// accessFixture is an organization with members users, tokens service tokens and one
// secret with updates changes, plus noise reveal records of that secret and other
// secrets' events, which an access review must not need to read.
type accessFixture struct {
	store    *eventstore.Store
	orgID    string
	secretID string
}

func seedAccess(tb testing.TB, users, tokens, updates, noise int) accessFixture {
	tb.Helper()
	ctx := context.Background()
	store := eventstoretest.New(tb).Store
	f := accessFixture{store: store, orgID: uuid.NewString(), secretID: uuid.NewString()}
	app := func(p eventstore.Pending) {
		tb.Helper()
		p.Unchecked = true
		if _, err := store.Append(ctx, p); err != nil {
			tb.Fatalf("append: %v", err)
		}
	}
	ids := make([]string, users)
	for i := range ids {
		ids[i] = uuid.NewString()
		app(eventstore.Pending{Aggregate: eventstore.Aggregate{OrgID: domain.PlatformScope, Type: domain.AggregateUser, ID: ids[i]},
			Position: 1, Events: []domain.Event{domain.UserRegistered{Email: fmt.Sprintf("u%04d@example.com", i), Name: "U", Superadmin: i == users-1}}})
	}
	orgAgg := eventstore.Aggregate{OrgID: f.orgID, Type: domain.AggregateOrganization, ID: f.orgID}
	app(eventstore.Pending{Aggregate: orgAgg, Position: 1, Events: []domain.Event{domain.OrganizationCreated{Name: "Acme", OwnerID: ids[0], RevealPolicy: domain.RevealAllowed}}})
	for i := 1; i < users-1; i++ {
		app(eventstore.Pending{Aggregate: orgAgg, Position: i + 1, Events: []domain.Event{domain.MemberAdded{UserID: ids[i], Role: domain.RoleEditor}}})
	}
	secret := eventstore.Aggregate{OrgID: f.orgID, Type: domain.AggregateSecret, ID: f.secretID}
	app(eventstore.Pending{Aggregate: secret, Position: 1, Events: []domain.Event{domain.SecretCreated{Name: "KEY", OwnerID: ids[1]}}})
	for i := range updates {
		d := fmt.Sprint(i)
		app(eventstore.Pending{Aggregate: secret, Position: i + 2, Events: []domain.Event{domain.SecretUpdated{Description: &d}}})
	}
	for i := range tokens {
		app(eventstore.Pending{Aggregate: eventstore.Aggregate{OrgID: f.orgID, Type: domain.AggregateServiceToken, ID: uuid.NewString()},
			Position: 1, Events: []domain.Event{domain.ServiceTokenCreated{Name: fmt.Sprintf("t%02d", i), Environments: []domain.Environment{domain.Production}, SecretHash: "h"}}})
	}
	// Noise: reveals of the secret and other secrets, 100 events a message.
	for n := 0; n < noise; n += 100 {
		evs := make([]domain.Event, 100)
		for i := range evs {
			evs[i] = domain.SecretRevealed{SecretID: f.secretID, Env: domain.Production, Version: 1}
		}
		app(eventstore.Pending{Aggregate: eventstore.Aggregate{OrgID: f.orgID, Type: domain.AggregateAccess, ID: f.secretID}, Position: n + 1, Events: evs})
		app(eventstore.Pending{Aggregate: eventstore.Aggregate{OrgID: f.orgID, Type: domain.AggregateSecret, ID: uuid.NewString()},
			Position: 1, Events: []domain.Event{domain.SecretCreated{Name: "OTHER", OwnerID: ids[0]}}})
	}
	return f
}

func TestAccessAtFromTheLog(t *testing.T) {
	t.Parallel()
	f := seedAccess(t, 5, 2, 3, 200)
	r, err := projections.AccessAt(context.Background(), f.store, f.orgID, f.secretID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Owner, three editors (one owns the secret), a super-admin who is not a member, two tokens.
	var got []string
	for _, s := range r.Subjects {
		who := s.Email
		if s.Kind == domain.SubjectServiceToken {
			who = s.Name
		}
		got = append(got, fmt.Sprintf("%s %s %s%v", who, s.Role, map[bool]string{true: "super"}[s.Superadmin], s.Can))
	}
	want := []string{
		"u0000@example.com owner [reveal modify delete fetch]",
		"u0001@example.com editor [reveal modify delete fetch]",
		"u0002@example.com editor [reveal fetch]",
		"u0003@example.com editor [reveal fetch]",
		"u0004@example.com  super[reveal modify delete fetch]",
		"t00  [fetch]",
		"t01  [fetch]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("subjects:\n got  %q\n want %q", got, want)
	}
	if r.SecretName != "KEY" || r.OwnerID == "" {
		t.Errorf("review header %+v", r)
	}
	for _, bad := range []string{"nope", uuid.NewString()} {
		if _, err := projections.AccessAt(context.Background(), f.store, f.orgID, bad, time.Now()); !domain.IsCode(err, domain.CodeNotFound) {
			t.Errorf("secret %q: %v, want not_found", bad, err)
		}
	}
}

// BenchmarkAccessAt: the review's cost follows the membership, token and secret
// histories, not the rest of the organization's log (noise: reveals and other secrets).
func BenchmarkAccessAt(b *testing.B) {
	for _, noise := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("members=50/tokens=20/updates=100/noise=%d", noise), func(b *testing.B) {
			f := seedAccess(b, 52, 20, 100, noise)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				if _, err := projections.AccessAt(ctx, f.store, f.orgID, f.secretID, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
